/**
 * End-to-end tests on the real codex app-server (`@openai/codex@0.169.0`
 * from npm, cached outside the repo).
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import {
  type CliRun,
  eventually,
  isAlive,
  processesOfHome,
  runCli,
  serverByHand,
} from "../support/helpers.ts";
import { REAL_CODEX_VERSION, realHome } from "../support/real_codex.ts";

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

/** Runs the Rust reference (`codex app-server daemon <command>`) on `home`. */
async function reference(home: string, command: string): Promise<CliRun> {
  const out = await new Deno.Command(`${home}/packages/standalone/current/codex`, {
    args: ["app-server", "daemon", command],
    env: { CODEX_HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return {
    code: out.code,
    stdout,
    stderr: "",
    get json(): Record<string, unknown> {
      return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
    },
  };
}

Deno.test("codexd manages a server the reference started, and the reference manages codexd's", async () => {
  await using h = await realHome();
  // reference → codexd
  const refStarted = await reference(h.home, "start");
  assertEquals(refStarted.code, 0, refStarted.stdout);
  const refPid = refStarted.json.pid as number;
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.pid, refPid);
  assertEquals(status.json.managed, true);
  assertEquals(status.json.pidRecordFile, `${h.home}/app-server-daemon/daemon.pid`);
  const started = await runCli(h.home, ["start"]);
  assertEquals([started.json.status, started.json.pid], ["alreadyRunning", refPid]);
  const restarted = await runCli(h.home, ["restart"]);
  assertEquals(restarted.json.status, "restarted", restarted.stdout);
  assert(!isAlive(refPid), "the reference's server was stopped by codexd's restart");
  const ours = restarted.json.pid as number;
  // codexd → reference
  const refVersion = await reference(h.home, "version");
  assertEquals(refVersion.json.appServerVersion, REAL_CODEX_VERSION);
  const refStop = await reference(h.home, "stop");
  assertEquals([refStop.code, refStop.json.status], [0, "stopped"], refStop.stdout);
  assert(!isAlive(ours), "the reference stopped codexd's server");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "notRunning");
  // and round again: codexd starts, codexd stops a server the reference saw
  const again = await runCli(h.home, ["start"]);
  assertEquals((await reference(h.home, "start")).json.status, "alreadyRunning");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(!isAlive(again.json.pid as number));
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("a real app-server started by hand is reported, adopted, and force-stopped", async () => {
  await using h = await realHome();
  {
    await using first = await serverByHand(h.home, 30_000);
    const start = await runCli(h.home, ["start"]);
    assertEquals(start.code, 0, start.stdout);
    assertEquals(start.json.status, "alreadyRunning");
    assertEquals(start.json.managed, false);
    assertEquals(start.json.pid, first.pid);
    const stop = await runCli(h.home, ["stop"]);
    assertEquals([stop.code, stop.json.code, stop.json.ownerPid], [
      1,
      "UNMANAGED_SERVER",
      first.pid,
    ]);
    assert(isAlive(first.pid));
    const adopted = await runCli(h.home, ["adopt"]);
    assertEquals([adopted.json.status, adopted.json.pid], ["adopted", first.pid]);
    assertEquals((await runCli(h.home, ["status"])).json.managed, true);
    assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
    assert(await eventually(() => !isAlive(first.pid)));
  }
  await using second = await serverByHand(h.home, 30_000);
  const forced = await runCli(h.home, ["stop", "--force"]);
  assertEquals([forced.json.status, forced.json.pid], ["stopped", second.pid], forced.stdout);
  assert(await eventually(() => !isAlive(second.pid)));
  assertEquals((await runCli(h.home, ["status"])).code, 3);
});
