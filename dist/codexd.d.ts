/**
 * The one-file build of the codexd CLI (`deno run -A jsr:@codexd/daemon/run
 * <command>`). It exports nothing for programs: import the typed library from
 * `jsr:@codexd/daemon` instead.
 *
 * @module
 */
export {};
