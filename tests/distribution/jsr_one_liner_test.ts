/**
 * README's headline line and library import, run as written against a JSR
 * registry: the on-disk registry (../shared/jsr) copied to a temporary
 * folder, this checkout laid out there as `@codexd/daemon` the way
 * `deno publish` would (scripts/jsr_layout.ts), served on loopback
 * (`JSR_URL`), and `deno` from PATH with an empty `DENO_DIR`:
 *
 *     deno run -A jsr:@codexd/daemon/run start
 *
 * then `version`, then a script importing `jsr:@codexd/daemon` that calls
 * `start`, `status` and `stop` — against a home with the real codex.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { processesOfHome } from "../support/helpers.ts";
import { needs } from "../support/host.ts";
import { REAL_CODEX_VERSION, realHome } from "../support/real_codex.ts";
import { locateJsrDir, serveJsr } from "../../scripts/jsr_server.ts";
import { layoutPackage } from "../../scripts/jsr_layout.ts";
import { copy } from "@std/fs/copy";

const registry = locateJsrDir();

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n").filter((line) => line !== "");
  assertEquals(lines.length, 1, `stdout must be one JSON line: ${stdout}`);
  return JSON.parse(lines[0]);
}

Deno.test(
  "README's one-liner and library import run as written from a JSR registry",
  needs(registry ? undefined : "no shared/jsr registry above the checkout (CODEXD_JSR_DIR)"),
  async (t) => {
    await using h = await realHome();
    const work = await Deno.makeTempDir({ prefix: "codexd-jsr-" });
    try {
      // The shared registry is read-only: publish into a copy.
      await copy(registry!, `${work}/jsr`);
      await layoutPackage(`${work}/jsr`);
      await using server = serveJsr(`${work}/jsr`);
      await Deno.mkdir(`${work}/bin`);
      await Deno.symlink(Deno.execPath(), `${work}/bin/deno`);
      const env = {
        PATH: `${work}/bin:/usr/bin:/bin`,
        HOME: work,
        DENO_DIR: `${work}/deno-dir`,
        JSR_URL: server.url,
        CODEX_HOME: h.home,
        NO_COLOR: "1",
      };
      // A user's shell in an empty folder: no deno.json, nothing cached.
      const sh = async (
        line: string,
      ): Promise<{ code: number; stdout: string; stderr: string }> => {
        const out = await new Deno.Command("/bin/sh", {
          args: ["-c", line],
          env,
          clearEnv: true,
          cwd: work,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
        return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      };

      await t.step("deno run -A jsr:@codexd/daemon/run start", async () => {
        const start = await sh("deno run -A jsr:@codexd/daemon/run start");
        assertEquals(start.code, 0, start.stderr);
        const json = lastJson(start.stdout);
        assertEquals(json.status, "started");
        assertEquals(json.appServerVersion, REAL_CODEX_VERSION);
      });
      await t.step("deno run -A jsr:@codexd/daemon/run version", async () => {
        const version = await sh("deno run -A jsr:@codexd/daemon/run version");
        assertEquals(version.code, 0, version.stderr);
        assertEquals(lastJson(version.stdout).appServerVersion, REAL_CODEX_VERSION);
      });
      await t.step("a script importing jsr:@codexd/daemon calls start, status, stop", async () => {
        await Deno.writeTextFile(
          `${work}/ensure.ts`,
          `import { start, status, stop } from "jsr:@codexd/daemon";
const codexHome = Deno.env.get("CODEX_HOME");
const started = await start({ codexHome });
const seen = await status({ codexHome });
const stopped = await stop({ codexHome });
console.log(JSON.stringify({ started: started.status, seen: seen.status, stopped: stopped.status }));
`,
        );
        const run = await sh("deno run -A ensure.ts");
        assertEquals(run.code, 0, run.stderr);
        assertEquals(lastJson(run.stdout), {
          started: "alreadyRunning",
          seen: "running",
          stopped: "stopped",
        });
        assertEquals(processesOfHome(h.home), []);
      });
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
);
