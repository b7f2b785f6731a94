/**
 * A client's calls after the first load the bundle from V8's code cache,
 * where its hot functions are kept compiled (`scripts/eager.ts`).
 *
 * Deno writes a module's code cache on an event-loop turn after the module
 * started; `Deno.exit` before any turn skips it. codexd's calls exit with
 * `Deno.exit` (ending by themselves cost ~1 ms more per call, measured), so
 * a call that never waits on I/O — `version` of a stopped server, an early
 * error — leaves no cache, and the next one that does (`start`, which
 * talks to the server) writes it. This holds codexd to that: should a
 * hot call stop leaving a cache, the eager functions would be compiled on
 * every call again, unnoticed.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../support/assert.ts";
import { fakeHome, REPO_ROOT, runCli } from "../support/helpers.ts";

const BUNDLE = `${REPO_ROOT}/dist/codexd.js`;

/** The modules Deno keeps compiled code for in `denoDir`. */
function cachedModules(denoDir: string): string[] {
  const file = `${denoDir}/v8_code_cache_v2`;
  try {
    Deno.statSync(file);
  } catch {
    return [];
  }
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare("SELECT specifier FROM codecache").all().map((row) => String(row.specifier));
  } finally {
    db.close();
  }
}

Deno.test("start and version through the one-liner's URL leave the bundle in Deno's code cache", async () => {
  await using h = await fakeHome();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async () =>
      new Response(await Deno.readFile(BUNDLE), {
        headers: { "content-type": "application/javascript" },
      }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/dist/codexd.js`;
  try {
    for (const [command, status] of [["start", "started"], ["version", "running"]]) {
      // A fresh DENO_DIR each: the call itself must leave the cache.
      const denoDir = await Deno.makeTempDir({ prefix: "codexd-denodir-" });
      try {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", url, command],
          env: { CODEX_HOME: h.home, DENO_DIR: denoDir, NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)).status, status);
        assert(
          cachedModules(denoDir).includes(url),
          `after \`${command}\`, Deno's code cache holds no entry for ${url}`,
        );
      } finally {
        await Deno.remove(denoDir, { recursive: true });
      }
    }
  } finally {
    await server.shutdown();
    assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  }
});
