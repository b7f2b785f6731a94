/**
 * codexd's own version, reported as `codexdVersion` and in the `initialize`
 * client info. Kept equal to `deno.json` by a test.
 *
 * @module
 */

/** The version of this codexd release. */
export const CODEXD_VERSION = "0.1.0";
