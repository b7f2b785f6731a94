/**
 * One run of `deno bundle` for the build steps (`bundle.ts`,
 * `embedded_cliffy.ts`): minified, for Deno, quiet, failing with the
 * bundler's own message.
 *
 * @module
 */

/** Runs `deno bundle --quiet --platform deno --minify …args` in `cwd`. */
export async function denoBundle(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--minify", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}
