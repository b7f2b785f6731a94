/**
 * The offline registry's pure parts: which content type a file is served
 * with, and where the on-disk registry is found from a checkout — also from a
 * clean clone whose parents hold no `shared/jsr` (CI may clone anywhere).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { contentType, locateJsrDir } from "../../scripts/jsr_server.ts";

Deno.test("contentType() labels TypeScript, JavaScript and JSON as Deno needs", () => {
  const table: [string, string][] = [
    ["/@std/path/1.1.6/mod.ts", "application/typescript"],
    ["/@std/x/1.0.0/a.js", "application/javascript"],
    ["/@std/x/1.0.0/a.mjs", "application/javascript"],
    ["/@std/path/meta.json", "application/json"],
  ];
  for (const [path, type] of table) assertEquals(contentType(path).split(";")[0], type, path);
});

Deno.test("locateJsrDir() looks above the checkout, then above the checkout it was cloned from", () => {
  const have = new Set(["/work/shared/jsr", "/env/jsr"]);
  const exists = (path: string): boolean => have.has(path);
  const table: [string, string | undefined, string | undefined, string | undefined][] = [
    // repo, $CODEXD_JSR_DIR, local origin, expected
    ["/work/main", undefined, undefined, "/work/shared/jsr"],
    ["/work/wt/h1", undefined, undefined, "/work/shared/jsr"],
    ["/tmp/ci/clone", undefined, undefined, undefined],
    ["/tmp/ci/clone", undefined, "/work/main", "/work/shared/jsr"],
    ["/tmp/ci/clone", "/env/jsr", "/work/main", "/env/jsr"],
    ["/tmp/ci/clone", "/missing", "/work/main", undefined],
  ];
  for (const [repo, env, origin, expected] of table) {
    assertEquals(locateJsrDir(repo, env, exists, origin), expected, `${repo} ${env} ${origin}`);
  }
});
