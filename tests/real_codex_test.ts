/**
 * End-to-end tests on the real codex app-server (`@openai/codex@0.169.0`
 * from npm, cached outside the repo).
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "./support/assert.ts";
import { isAlive, processesOfHome, runCli } from "./support/helpers.ts";
import { REAL_CODEX_VERSION, realHome } from "./support/real_codex.ts";

Deno.test("the real app-server goes through start, version, status, restart and stop", async () => {
  await using h = await realHome();
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.code, 0, started.stdout + started.stderr);
  assertEquals(started.json.status, "started");
  assertEquals(started.json.appServerVersion, REAL_CODEX_VERSION);
  assertEquals(started.json.cliVersion, REAL_CODEX_VERSION);
  assertEquals(started.json.managedCodexVersion, REAL_CODEX_VERSION);
  const pid = started.json.pid as number;

  const again = await runCli(h.home, ["start"]);
  assertEquals(again.json.status, "alreadyRunning");
  assertEquals(again.json.pid, pid);

  const version = await runCli(h.home, ["version"]);
  assertEquals(version.json.status, "running");
  assertEquals(version.json.appServerVersion, REAL_CODEX_VERSION);

  const status = await runCli(h.home, ["status"]);
  assertEquals(status.code, 0);
  assertEquals(status.json.pid, pid);
  assert((status.json.uptimeSeconds as number) >= 0);

  const restarted = await runCli(h.home, ["restart"]);
  assertEquals(restarted.json.status, "restarted");
  assertNotEquals(restarted.json.pid, pid);
  assertEquals(restarted.json.appServerVersion, REAL_CODEX_VERSION);
  assert(!isAlive(pid));

  const stopped = await runCli(h.home, ["stop"]);
  assertEquals(stopped.json.status, "stopped");
  assert(!isAlive(restarted.json.pid as number));
  assertEquals((await runCli(h.home, ["stop"])).json.status, "notRunning");

  const gone = await runCli(h.home, ["version"]);
  assertEquals(gone.code, 1);
  assertEquals(gone.json.code, "NOT_RUNNING");
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("a daemon the Rust reference started is left alone with the reference's stop as the hint", async () => {
  await using h = await realHome();
  const reference = (command: string) =>
    new Deno.Command(`${h.home}/packages/standalone/current/codex`, {
      args: ["app-server", "daemon", command],
      env: { CODEX_HOME: h.home },
      stdout: "piped",
      stderr: "null",
    }).output();
  assertEquals((await reference("start")).code, 0);
  const start = await runCli(h.home, ["start"]);
  assertEquals(start.json.code, "UNMANAGED_SERVER");
  assertEquals(start.json.hint, "codex app-server daemon stop, then: codexd start");
  assertEquals((await runCli(h.home, ["version"])).json.appServerVersion, REAL_CODEX_VERSION);
  assertEquals((await reference("stop")).code, 0);
  assertEquals((await runCli(h.home, ["start"])).json.status, "started");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
});
