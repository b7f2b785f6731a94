/**
 * Black-box CLI tests of the lifecycle against the fake app-server: the
 * happy path, every fault the fake can inject, and the hardening rows of SPEC.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  configureFake,
  eventually,
  fakeHome,
  fakeLaunches,
  isAlive,
  MOD_TS,
  processesOfHome,
  runCli,
} from "../support/helpers.ts";

async function readPid(home: string): Promise<{ pid: number } | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${home}/app-server-daemon/app-server.pid`));
  } catch {
    return undefined;
  }
}

Deno.test("start, version, status, restart and stop walk the whole lifecycle", async () => {
  await using h = await fakeHome({ version: "1.2.3" });
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.code, 0, started.stderr);
  const first = started.json;
  assertEquals(first.status, "started");
  assertEquals(first.backend, "pid");
  assertEquals(first.appServerVersion, "1.2.3");
  assertEquals(first.cliVersion, "1.2.3");
  assertEquals(first.managedCodexVersion, "1.2.3");
  assertEquals(first.socketPath, `${h.home}/app-server-control/app-server-control.sock`);
  assertEquals(started.stderr, "");
  const pid = first.pid as number;
  assert(isAlive(pid));

  const again = await runCli(h.home, ["start"]);
  assertEquals(again.json.status, "alreadyRunning");
  assertEquals(again.json.pid, pid);

  const version = await runCli(h.home, ["version"]);
  assertEquals(version.code, 0);
  assertEquals(version.json.status, "running");
  assertEquals(version.json.appServerVersion, "1.2.3");

  const status = await runCli(h.home, ["status"]);
  assertEquals(status.code, 0);
  assertEquals(status.json.status, "running");
  assertEquals(status.json.pid, pid);
  assertEquals(typeof status.json.uptimeSeconds, "number");
  assertEquals(status.json.logPath, `${h.home}/app-server-daemon/app-server.stderr.log`);

  const restarted = await runCli(h.home, ["restart", "--grace-seconds", "5"]);
  assertEquals(restarted.json.status, "restarted");
  assertNotEquals(restarted.json.pid, pid);
  assert(!isAlive(pid), "the old app-server is gone after restart");

  const stopped = await runCli(h.home, ["stop"]);
  assertEquals(stopped.json.status, "stopped");
  assert(!isAlive(restarted.json.pid as number));
  assertEquals(await readPid(h.home), undefined);

  const stoppedAgain = await runCli(h.home, ["stop"]);
  assertEquals(stoppedAgain.json.status, "notRunning");

  const noVersion = await runCli(h.home, ["version"]);
  assertEquals(noVersion.code, 1);
  assertEquals(noVersion.json.code, "NOT_RUNNING");
  assertEquals(noVersion.json.hint, "codexd start");
  assertMatch(noVersion.stderr, /^Error: No app-server answers/);

  const stoppedStatus = await runCli(h.home, ["status"]);
  assertEquals(stoppedStatus.code, 3);
  assertEquals(stoppedStatus.json.status, "stopped");
});

Deno.test("16 concurrent starts leave exactly one app-server and one started", async () => {
  await using h = await fakeHome();
  const runs = await Promise.all(
    Array.from({ length: 16 }, () => runCli(h.home, ["start"])),
  );
  const statuses = runs.map((run) => run.json.status);
  assertEquals(statuses.filter((s) => s === "started").length, 1, JSON.stringify(statuses));
  assertEquals(statuses.filter((s) => s === "alreadyRunning").length, 15);
  assertEquals(new Set(runs.map((run) => run.json.pid)).size, 1);
  assertEquals((await fakeLaunches(h.home)).length, 1);
  assertEquals(processesOfHome(h.home).length, 1);
});

Deno.test("start brings back an app-server that was killed with SIGKILL", async () => {
  await using h = await fakeHome();
  const first = (await runCli(h.home, ["start"])).json;
  Deno.kill(first.pid as number, "SIGKILL");
  assert(await eventually(() => !isAlive(first.pid as number)));
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.pidRecord, "stale");
  const second = (await runCli(h.home, ["start"])).json;
  assertEquals(second.status, "started");
  assertNotEquals(second.pid, first.pid);
});

Deno.test("a pid record naming an unrelated live process never gets it signalled", async () => {
  await using h = await fakeHome();
  const stranger = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
    const bootId = (await Deno.readTextFile("/proc/sys/kernel/random/boot_id")).trim();
    // Same pid, but the start time of some other process: pid reuse.
    await Deno.writeTextFile(
      `${h.home}/app-server-daemon/app-server.pid`,
      JSON.stringify({
        pid: stranger.pid,
        processStartTime: "2020-01-01T00:00:00.000Z",
        processIdentity: { bootId, startTicks: 1 },
      }),
    );
    const stopped = await runCli(h.home, ["stop", "--grace-seconds", "0"]);
    assertEquals(stopped.json.status, "notRunning");
    assert(isAlive(stranger.pid), "the stranger survived stop");

    await Deno.writeTextFile(
      `${h.home}/app-server-daemon/app-server.pid`,
      JSON.stringify({
        pid: stranger.pid,
        processStartTime: "x",
        processIdentity: { bootId: "another-boot", startTicks: 1 },
      }),
    );
    const started = await runCli(h.home, ["start"]);
    assertEquals(started.json.status, "started");
    assertNotEquals(started.json.pid, stranger.pid);
    const restarted = await runCli(h.home, ["restart", "--grace-seconds", "1"]);
    assertEquals(restarted.json.status, "restarted");
    assert(isAlive(stranger.pid), "the stranger survived start and restart");
  } finally {
    stranger.kill("SIGKILL");
    await stranger.status;
  }
});

Deno.test("corrupt or empty pid records are recovered by start", async () => {
  for (const content of ["", "{not json", '{"pid":"x"}', "[]"]) {
    await using h = await fakeHome();
    await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
    await Deno.writeTextFile(`${h.home}/app-server-daemon/app-server.pid`, content);
    const started = await runCli(h.home, ["start"]);
    assertEquals(started.json.status, "started", `record ${JSON.stringify(content)}`);
    const stopped = await runCli(h.home, ["stop"]);
    assertEquals(stopped.json.status, "stopped");
  }
});

Deno.test("malformed settings fail start with SETTINGS_INVALID but stop still works", async () => {
  await using h = await fakeHome();
  assertEquals((await runCli(h.home, ["start"])).json.status, "started");
  await Deno.writeTextFile(`${h.home}/app-server-daemon/settings.json`, "{oops");
  const start = await runCli(h.home, ["start"]);
  assertEquals(start.code, 1);
  assertEquals(start.json.code, "SETTINGS_INVALID");
  assert(!start.stderr.includes("    at "), "no stack trace");
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({ shutdownGraceSeconds: 9000 }),
  );
  assertEquals((await runCli(h.home, ["restart"])).json.code, "SETTINGS_INVALID");
  const stop = await runCli(h.home, ["stop"]);
  assertEquals(stop.json.status, "stopped");
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("an app-server that never answers fails with NOT_READY and leaves nothing running", async () => {
  await using h = await fakeHome({ neverReady: true });
  const start = await runCli(h.home, ["start", "--start-timeout-seconds", "1"]);
  assertEquals(start.code, 1);
  assertEquals(start.json.code, "NOT_READY");
  assertMatch(start.json.message as string, /no answer within 1000 ms/);
  assertMatch(start.json.message as string, /fake app-server listening/);
  assertEquals(await readPid(h.home), undefined);
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("an app-server that exits at once fails fast with its log tail", async () => {
  await using h = await fakeHome({ exitAtOnce: true });
  const start = await runCli(h.home, ["start", "--start-timeout-seconds", "60"]);
  assertEquals(start.json.code, "NOT_READY");
  assertMatch(start.json.message as string, /exited with code 3 before answering/);
  assertMatch(start.json.message as string, /crashing on purpose/);
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("a slow app-server is waited for until it answers", async () => {
  await using h = await fakeHome({ startDelayMs: 800 });
  const start = await runCli(h.home, ["start"]);
  assertEquals(start.json.status, "started");
});

Deno.test("stop kills an app-server that ignores SIGTERM after the grace window", async () => {
  await using h = await fakeHome({ ignoreSigterm: true });
  const { pid } = (await runCli(h.home, ["start"])).json;
  const stop = await runCli(h.home, ["stop", "--grace-seconds", "1"]);
  assertEquals(stop.json.status, "stopped");
  assert(!isAlive(pid as number));
  const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server.stderr.log`);
  assertMatch(log, /ignoring SIGTERM/);
});

Deno.test("shutdownGraceSeconds from settings bounds the wait when no flag is given", async () => {
  await using h = await fakeHome({ ignoreSigterm: true });
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({ shutdownGraceSeconds: 0, custom: "kept" }),
  );
  const { pid } = (await runCli(h.home, ["start"])).json;
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(!isAlive(pid as number));
});

Deno.test("a missing or non-executable binary fails before anything is spawned", async () => {
  await using h = await fakeHome();
  const release = await Deno.realPath(`${h.home}/packages/standalone/current`);
  await Deno.chmod(`${release}/bin/codex`, 0o644);
  const notExec = await runCli(h.home, ["start"]);
  assertEquals(notExec.json.code, "BINARY_NOT_EXECUTABLE");
  assertMatch(notExec.json.hint as string, /^chmod \+x /);
  await Deno.remove(`${h.home}/packages/standalone/current`);
  const missing = await runCli(h.home, ["start"]);
  assertEquals(missing.code, 1);
  assertEquals(missing.json.code, "BINARY_MISSING");
  assertEquals(missing.json.hint, "codexd bootstrap --install");
  assertEquals((await fakeLaunches(h.home)).length, 0);
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("a binary whose --version is not codex-cli fails with BINARY_VERSION_MALFORMED", async () => {
  await using h = await fakeHome();
  const release = await Deno.realPath(`${h.home}/packages/standalone/current`);
  await Deno.remove(`${release}/codex`);
  await Deno.writeTextFile(`${release}/bin/codex`, "#!/bin/sh\necho hello\n", { mode: 0o755 });
  const start = await runCli(h.home, ["start"]);
  assertEquals(start.json.code, "BINARY_VERSION_MALFORMED");
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("a CLI killed mid-start leaves a record the next start converges on", async () => {
  await using h = await fakeHome({ startDelayMs: 1500 });
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_TS, "start"],
    env: { CODEX_HOME: h.home },
    stdout: "null",
    stderr: "null",
  }).spawn();
  assert(await eventually(async () => (await readPid(h.home)) !== undefined));
  cli.kill("SIGKILL");
  await cli.status;
  const next = await runCli(h.home, ["start"]);
  assertEquals(next.code, 0, next.stdout);
  assertEquals(next.json.status, "alreadyRunning");
  const live = processesOfHome(h.home);
  assertEquals(live.length, 1);
  assertEquals(live[0], next.json.pid);
  assertEquals((await fakeLaunches(h.home)).length, 1);
});

Deno.test("a long CODEX_HOME works through the socket symlink", async () => {
  const parent = await Deno.makeTempDir({ prefix: "codexd-long-" });
  try {
    const deep = `${parent}/${"d".repeat(60)}/${"e".repeat(60)}`;
    await Deno.mkdir(deep, { recursive: true });
    await using h = await fakeHome({}, { parent: deep });
    const socket = `${h.home}/app-server-control/app-server-control.sock`;
    assert(new TextEncoder().encode(socket).length > 107);
    assertEquals((await runCli(h.home, ["start"])).json.status, "started");
    assertEquals((await runCli(h.home, ["version"])).json.status, "running");
    assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("the launch carries the supported flags only", async () => {
  await using h = await fakeHome({ rejectFlags: ["--managed-daemon"] });
  await runCli(h.home, ["start"]);
  const [launch] = await fakeLaunches(h.home);
  assertEquals(launch.args, ["app-server", "--listen", "unix://", "--analytics-default-enabled"]);
  assertEquals(launch.remoteControlDisabledEnv, "1");
});

Deno.test("a version change of the binary is picked up without a stale cache", async () => {
  await using h = await fakeHome({ version: "1.0.0" });
  assertEquals((await runCli(h.home, ["start"])).json.cliVersion, "1.0.0");
  await runCli(h.home, ["stop"]);
  await configureFake(h.home, { version: "2.0.0" });
  // Same launcher file: touch it so size/mtime change like a real update.
  const release = await Deno.realPath(`${h.home}/packages/standalone/current`);
  await Deno.writeTextFile(`${release}/bin/codex`, "\n# updated\n", { append: true });
  const started = (await runCli(h.home, ["start"])).json;
  assertEquals(started.cliVersion, "2.0.0");
  assertEquals(started.appServerVersion, "2.0.0");
});

Deno.test("logs prints the tail of the current log; each spawn rotates the previous run", async () => {
  await using h = await fakeHome();
  await runCli(h.home, ["start"]);
  await runCli(h.home, ["restart"]);
  const logs = await runCli(h.home, ["logs", "-n", "1"]);
  assertEquals(logs.code, 0);
  assertEquals(logs.json.logPath, `${h.home}/app-server-daemon/app-server.stderr.log`);
  assertEquals((logs.json.lines as string[]).length, 1);
  assertMatch((logs.json.lines as string[])[0], /fake app-server listening/);
  const previous = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server.stderr.log.1`);
  assertMatch(previous, /fake app-server 9\.9\.9 starting/);
  const pretty = await runCli(h.home, ["logs", "--pretty"]);
  assertMatch(pretty.stdout, /^==> .*app-server\.stderr\.log <==\n/);
  assertEquals((await runCli(h.home, ["logs", "--updater"])).json.lines, []);
});

Deno.test("restart with a broken binary keeps the running app-server", async () => {
  await using h = await fakeHome();
  const { pid } = (await runCli(h.home, ["start"])).json;
  const release = await Deno.realPath(`${h.home}/packages/standalone/current`);
  await Deno.writeTextFile(`${release}/bin/codex`, "#!/bin/sh\necho garbage\n", { mode: 0o755 });
  const restart = await runCli(h.home, ["restart"]);
  assertEquals(restart.json.code, "BINARY_VERSION_MALFORMED");
  assert(isAlive(pid as number), "the working server was not stopped");
  assertEquals((await runCli(h.home, ["version"])).json.pid, pid);
});

Deno.test("a wedged lock holder makes commands fail with LOCK_TIMEOUT naming its pid", async () => {
  const { acquireDaemonLock } = await import("../../lib/state/daemon_lock.ts");
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await using _held = await acquireDaemonLock(`${h.home}/app-server-daemon/daemon.lock`);
  const start = await runCli(h.home, ["start", "--lock-timeout-seconds", "1"]);
  assertEquals(start.code, 1);
  assertEquals(start.json.code, "LOCK_TIMEOUT");
  assertMatch(start.json.message as string, new RegExp(`held by pid ${Deno.pid} for \\d+ s`));
  // Read-only commands take no lock.
  assertEquals((await runCli(h.home, ["status"])).code, 3);
  assertEquals((await fakeLaunches(h.home)).length, 0);
});

Deno.test("a record without identity is adopted only when the process is this home's app-server", async () => {
  await using h = await fakeHome();
  const { pid } = (await runCli(h.home, ["start"])).json;
  const pidFile = `${h.home}/app-server-daemon/app-server.pid`;
  // An older or foreign tool's record: just the pid.
  await Deno.writeTextFile(pidFile, JSON.stringify({ pid }));
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.pidRecord, "running");
  assert(JSON.parse(await Deno.readTextFile(pidFile)).processIdentity.startTicks > 0);
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(!isAlive(pid as number));

  // The same kind of record naming a stranger is stale, and the stranger lives.
  const stranger = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    await Deno.writeTextFile(pidFile, JSON.stringify({ pid: stranger.pid }));
    assertEquals((await runCli(h.home, ["status"])).json.pidRecord, "stale");
    assertEquals((await runCli(h.home, ["stop"])).json.status, "notRunning");
    assert(isAlive(stranger.pid));
  } finally {
    stranger.kill("SIGKILL");
    await stranger.status;
  }
});
