/**
 * Drop-in behaviour for clients written against the reference: JSON on a
 * terminal, the same keys whatever the state, servers started by hand,
 * codex's global flags, the thread snapshot on stop, a nonexistent
 * CODEX_HOME, a stop that holds, and a bootstrap that keeps saved settings.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  eventually,
  fakeHome,
  fakeLaunches,
  isAlive,
  processesOfHome,
  runCli,
  serverByHand,
} from "../support/helpers.ts";

const LIFECYCLE_KEYS = [
  "status",
  "backend",
  "pid",
  "managed",
  "managedCodexPath",
  "managedCodexExists",
  "managedCodexVersion",
  "socketPath",
  "cliVersion",
  "appServerVersion",
  "codexdVersion",
];

Deno.test("every lifecycle result has the same keys, null where unknown, codex installed or not", async () => {
  await using h = await fakeHome();
  const started = await runCli(h.home, ["start"]);
  const stopped = await runCli(h.home, ["stop"]);
  const notRunning = await runCli(h.home, ["stop"]);
  await Deno.remove(`${h.home}/packages`, { recursive: true });
  const missing = await runCli(h.home, ["stop"]);
  for (const run of [started, stopped, notRunning, missing]) {
    for (const key of LIFECYCLE_KEYS) assert(key in run.json, `${key} in ${run.stdout}`);
  }
  assertEquals([started.json.changed, stopped.json.changed, notRunning.json.changed], [
    true,
    true,
    false,
  ]);
  assertEquals(missing.json.managedCodexExists, false);
  assertEquals(missing.json.managedCodexVersion, null);
  assertEquals(missing.json.cliVersion, null);
});

Deno.test("a terminal on stdout still gets one JSON object; --pretty gets one line", async () => {
  await using h = await fakeHome();
  await runCli(h.home, ["start"]);
  const script = (args: string): Promise<Deno.CommandOutput> =>
    new Deno.Command("script", {
      args: ["-qec", `${Deno.execPath()} run -A mod.ts ${args}`, "/dev/null"],
      cwd: new URL("../..", import.meta.url).pathname,
      env: { CODEX_HOME: h.home, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  const onTty = new TextDecoder().decode((await script("version")).stdout).trim();
  assertEquals(JSON.parse(onTty).status, "running");
  const pretty = new TextDecoder().decode((await script("version --pretty")).stdout).trim();
  assertEquals(pretty.split("\n").length, 1, pretty);
  assert(pretty.startsWith("running · pid "), pretty);
});

Deno.test("-c, --enable and --disable reach the launched app-server's argv", async () => {
  await using h = await fakeHome();
  const run = await runCli(h.home, [
    "start",
    "-c",
    'model="o3"',
    "--enable",
    "foo",
    "--disable",
    "bar",
  ]);
  assertEquals(run.json.status, "started", run.stdout);
  const [launch] = await fakeLaunches(h.home);
  assertEquals(launch.args.slice(-6), ["-c", 'model="o3"', "--enable", "foo", "--disable", "bar"]);
});

Deno.test("stop removes loaded-threads.json, restart keeps it, a fresh start drops a stale one", async () => {
  await using h = await fakeHome();
  const snapshot = `${h.home}/app-server-daemon/loaded-threads.json`;
  const exists = (): boolean => {
    try {
      Deno.statSync(snapshot);
      return true;
    } catch {
      return false;
    }
  };
  await runCli(h.home, ["start"]);
  await Deno.writeTextFile(snapshot, '["thread-1"]');
  assertEquals((await runCli(h.home, ["restart"])).json.status, "restarted");
  assert(exists(), "restart keeps the snapshot for the new server to restore");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(!exists(), "a deliberate stop discards it");
  await Deno.writeTextFile(snapshot, '["thread-2"]');
  assertEquals((await runCli(h.home, ["start"])).json.status, "started");
  assert(!exists(), "a fresh start discards a stale one");
});

Deno.test("a nonexistent CODEX_HOME: read-only commands create nothing, stop fails with a code", async () => {
  const parent = await Deno.makeTempDir({ prefix: "codexd-typo-" });
  const typo = `${parent}/typo`;
  try {
    for (const args of [["status"], ["version"], ["logs"]]) {
      await runCli(typo, args);
      assertEquals([...Deno.readDirSync(parent)], [], `${args[0]} created nothing`);
    }
    const stop = await runCli(typo, ["stop"]);
    assertEquals([stop.code, stop.json.code], [1, "HOME_NOT_FOUND"]);
    assertEquals([...Deno.readDirSync(parent)], []);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a server started by hand: start reports it, stop refuses, adopt manages it", async () => {
  await using h = await fakeHome();
  await using stranger = await serverByHand(h.home);
  const start = await runCli(h.home, ["start"]);
  assertEquals([start.code, start.json.status, start.json.managed], [0, "alreadyRunning", false]);
  assertEquals(start.json.pid, stranger.pid);
  const stop = await runCli(h.home, ["stop"]);
  assertEquals([stop.json.code, stop.json.ownerPid], ["UNMANAGED_SERVER", stranger.pid]);
  assertEquals((await runCli(h.home, ["restart"])).json.code, "UNMANAGED_SERVER");
  assert(isAlive(stranger.pid));
  // The launch the refused restart had parked is gone: no second app-server.
  assertEquals(processesOfHome(h.home), [stranger.pid]);
  assertEquals((await runCli(h.home, ["adopt"])).json.status, "adopted");
  assertEquals((await runCli(h.home, ["adopt"])).json.status, "alreadyManaged");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(await eventually(() => !isAlive(stranger.pid)));
});

Deno.test("bootstrap keeps saved settings and reports changed only when something changed", async () => {
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({
      updater: { autoUpdateEnabled: false, firstPassDelaySeconds: 3600 },
    }),
  );
  const first = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(first.json.changed, true, first.stdout);
  assertEquals(first.json.autoUpdateEnabled, false, "saved autoUpdateEnabled kept");
  assertEquals(first.json.remoteControlEnabled, true);
  const second = await runCli(h.home, ["bootstrap"]);
  assertEquals(second.json.changed, false, second.stdout);
  assertEquals(second.json.remoteControlEnabled, true, "remote control kept without the flag");
  assertEquals(second.json.pid, first.json.pid, "no restart");
  const off = await runCli(h.home, ["bootstrap", "--no-remote-control"]);
  assertEquals([off.json.changed, off.json.remoteControlEnabled], [true, false]);
  await runCli(h.home, ["stop", "--all"]);
  assertEquals(processesOfHome(h.home), []);
});

Deno.test("a stop holds even when settings.json is malformed", async () => {
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  const settings = `${h.home}/app-server-daemon/settings.json`;
  await Deno.writeTextFile(
    settings,
    JSON.stringify({
      updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 1 } },
    }),
  );
  const boot = await runCli(h.home, ["bootstrap"]);
  assertEquals(boot.json.status, "bootstrapped", boot.stdout);
  await Deno.writeTextFile(settings, "{ not json");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  // Several supervision intervals pass: the updater must not revive it.
  const revived = await eventually(
    async () => (await runCli(h.home, ["version"])).code === 0,
    4_000,
    250,
  );
  assert(!revived, "supervision brought a stopped server back");
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("the reference's updater is detected, never doubled, and stopped by stop --all", async () => {
  await using h = await fakeHome();
  const { writePidRecord } = await import("../../lib/process/pid_record.ts");
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  // Stands in for `codex app-server daemon`'s updater loop (own process group).
  const foreign = new Deno.Command("/bin/sleep", {
    args: ["300"],
    env: { CODEX_HOME: h.home },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  try {
    await writePidRecord(`${h.home}/app-server-daemon/daemon-updater.pid`, foreign.pid);
    const boot = await runCli(h.home, ["bootstrap"]);
    assertEquals([boot.code, boot.json.code], [1, "UPDATER_CONFLICT"], boot.stdout);
    assertEquals((await runCli(h.home, ["status"])).code, 3, "bootstrap changed nothing");
    const stop = await runCli(h.home, ["stop", "--all"]);
    assertEquals(stop.json.updaterStopped, true);
    assert(await eventually(() => !isAlive(foreign.pid)));
    const again = await runCli(h.home, ["bootstrap"]);
    assertEquals(again.json.status, "bootstrapped", again.stdout);
    await runCli(h.home, ["stop", "--all"]);
  } finally {
    try {
      foreign.kill("SIGKILL");
    } catch {
      // stopped by codexd
    }
    await foreign.status;
  }
});
