/**
 * Regressions of the turn-safety audit (issue 18, points 1–5 and the two
 * autostart paths) against the fake app-server: `--when-idle` confirms idle
 * under `daemon.lock`; a live server that does not answer is never taken
 * for idle; the deadline follows the current settings and the boot clock;
 * a pending restart is revalidated and dropped when moot; something always
 * applies a pending restart; an autostart unit's ExecStop during
 * `disable-autostart` leaves the app-server serving.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  type CliRun,
  cliRun,
  configureFake,
  eventually,
  fakeHome,
  hasOpen,
  isAlive,
  MOD_TS,
  runCli,
} from "../support/helpers.ts";
import { acquireDaemonLock, readLockHolder } from "../../lib/state/daemon_lock.ts";
import { procUptimeMs } from "../../lib/clock.ts";
import { readBootId } from "../../lib/process/process_identity.ts";

const STATE = "app-server-daemon";
const PENDING = `${STATE}/pending-restart.json`;
const LOG = `${STATE}/app-server-updater.log`;
const SOCKET = "app-server-control/app-server-control.sock";

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value));
}

async function readLog(home: string): Promise<string> {
  return await Deno.readTextFile(`${home}/${LOG}`).catch(() => "");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A CLI run in the background: its pid now, its result later. */
function spawnCli(home: string, args: string[]): { pid: number; done: Promise<CliRun> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_TS, ...args],
    env: { CODEX_HOME: home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { pid: child.pid, done: child.output().then(cliRun) };
}

/** Settings that keep the applier's and updater's own passes out of a test's way. */
const QUIET = { updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 3600 } } };

// ---- 1. --when-idle races the lock ----

Deno.test("stop --when-idle confirms idle again under daemon.lock: a turn that starts while it waits for the lock keeps it waiting", async () => {
  await using h = await fakeHome({ activeTurns: 0 });
  const lockFile = `${h.home}/${STATE}/daemon.lock`;
  const started = await runCli(h.home, ["start"]);
  const pid = started.json.pid as number;
  const lock = await acquireDaemonLock(lockFile);
  let stopping: ReturnType<typeof spawnCli>;
  try {
    stopping = spawnCli(h.home, ["stop", "--when-idle", "--idle-timeout-seconds", "300"]);
    // It saw idle without the lock and now waits for the lock this test holds.
    assert(await eventually(() => hasOpen(stopping.pid, lockFile), 60_000, 20));
    await configureFake(h.home, { activeTurns: 1 }); // a turn starts meanwhile
  } finally {
    await lock.release();
  }
  // It took the lock, saw the turn through the gate, let the lock go: nothing stopped.
  assert(
    await eventually(
      async () =>
        (await readLockHolder(lockFile))?.pid === stopping.pid && !hasOpen(stopping.pid, lockFile),
      60_000,
      20,
    ),
  );
  assert(isAlive(pid), "the server was stopped while a turn ran");
  assertEquals((await runCli(h.home, ["status"])).json.pid, pid);
  await configureFake(h.home, { activeTurns: 0 }); // the turn ends
  const stopped = await stopping.done;
  assertEquals(stopped.code, 0, stopped.stdout + stopped.stderr);
  assertEquals(stopped.json.status, "stopped");
  assertEquals((stopped.json.waitedForIdle as Record<string, number>).activeTurnsAtStart, 0);
  assert(await eventually(() => !isAlive(pid), 10_000));
});

Deno.test("restart --when-idle fails STILL_BUSY with activeTurns, restarting nothing, when a turn started while it waited for the lock", async () => {
  await using h = await fakeHome({ activeTurns: 0 });
  const lockFile = `${h.home}/${STATE}/daemon.lock`;
  const started = await runCli(h.home, ["start"]);
  const lock = await acquireDaemonLock(lockFile);
  let restarting: ReturnType<typeof spawnCli>;
  try {
    restarting = spawnCli(h.home, ["restart", "--when-idle", "--idle-timeout-seconds", "4"]);
    assert(await eventually(() => hasOpen(restarting.pid, lockFile), 60_000, 20));
    await configureFake(h.home, { activeTurns: 1 });
  } finally {
    await lock.release();
  }
  const busy = await restarting.done;
  assertEquals(busy.code, 1, busy.stdout);
  assertEquals(busy.json.code, "STILL_BUSY");
  assertEquals(busy.json.activeTurns, 1);
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);
});

// ---- 2. cannot tell is never idle ----

Deno.test("a live app-server whose socket is gone is never taken for idle: apply-pending, enable-remote-control and stop --when-idle hold it", async () => {
  await using h = await fakeHome({ activeTurns: 1, remoteControl: "missing" });
  await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
  const started = await runCli(h.home, ["start"]);
  const pid = started.json.pid as number;
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "update",
    toVersion: "10.0.0",
    since: new Date().toISOString(),
    deadline: null,
    reason: "update 9.9.9 -> 10.0.0",
  });
  await Deno.remove(`${h.home}/${SOCKET}`); // the process lives on, unreachable

  for (let pass = 0; pass < 2; pass++) {
    const held = await runCli(h.home, ["apply-pending"]);
    assertEquals(held.json.status, "waiting", held.stdout + held.stderr);
    assertEquals((held.json.pendingRestart as Record<string, unknown>).waitingFor, "answer");
  }
  assert(isAlive(pid));
  const lines = (await readLog(h.home)).split("\n").filter((l) => /cannot tell/.test(l));
  assertEquals(lines.length, 1, "logged once, not at every pass");
  assertMatch(
    lines[0],
    /restart deferred \(update 9\.9\.9 -> 10\.0\.0\): the app-server does not answer/,
  );

  // Enabling remote control needs a restart on this release: held, not done blind.
  const enabled = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
  assertEquals(enabled.json.applied, "pendingRestart");
  assertEquals(enabled.json.restarted, false);
  assertEquals((enabled.json.pendingRestart as Record<string, unknown>).waitingFor, "answer");
  assertMatch(String(enabled.json.warnings), /never restarted blind/);
  assert(isAlive(pid));

  const stop = await runCli(h.home, ["stop", "--when-idle", "--idle-timeout-seconds", "0"]);
  assertEquals(stop.json.code, "STILL_BUSY");
  assertEquals(stop.json.activeTurns, null);
  assertMatch(String(stop.json.message), /cannot tell/);
  assert(isAlive(pid));
  // A user's plain stop still stops it.
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assert(await eventually(() => !isAlive(pid), 10_000));
});

// ---- 3. the deadline follows the current settings ----

Deno.test("a deadline set to 0 after the deferral never forces: the current settings decide", async () => {
  await using h = await fakeHome({ activeTurns: 1 });
  const started = await runCli(h.home, ["start"]);
  await writeJson(`${h.home}/${STATE}/settings.json`, {
    ...QUIET,
    remoteControlEnabled: true, // new launch flags wait for the turn
  });
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "restart",
    toVersion: null,
    // Deferred two hours ago under a 60-minute deadline recorded then.
    since: new Date(Date.now() - 2 * 3_600_000).toISOString(),
    deadline: new Date(Date.now() - 3_600_000).toISOString(),
    reason: "deadline changed",
  });
  await writeJson(`${h.home}/${STATE}/settings.json`, {
    updater: { ...QUIET.updater, restartDeadlineMinutes: 0 },
    remoteControlEnabled: true,
  });
  const held = await runCli(h.home, ["apply-pending"]);
  assertEquals(held.json.status, "waiting", held.stdout + held.stderr);
  assertEquals((held.json.pendingRestart as Record<string, unknown>).deadline, null);
  assertEquals(await exists(`${h.home}/fake-interrupts.jsonl`), false);
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);
});

Deno.test(
  "a wall-clock step forward forces no interrupt early: the deadline counts on the boot clock",
  {
    // In-process (an injected clock), with the fake app-server as a separate process.
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    const { applyPendingRestart } = await import("../../lib/updater/apply_pending.ts");
    await using h = await fakeHome({ activeTurns: 1 });
    const started = await runCli(h.home, ["start"]);
    await writeJson(`${h.home}/${STATE}/settings.json`, {
      updater: { ...QUIET.updater, restartDeadlineMinutes: 60 },
      remoteControlEnabled: true,
    });
    const uptime = procUptimeMs()!;
    await writeJson(`${h.home}/${PENDING}`, {
      kind: "restart",
      toVersion: null,
      since: new Date().toISOString(),
      sinceUptimeMs: uptime,
      bootId: readBootId(),
      deadline: null,
      reason: "clock step",
    });
    const clockAhead = (wallMs: number, bootMs: number) => ({
      now: () => Date.now() + wallMs,
      uptimeMs: () => (procUptimeMs() ?? 0) + bootMs,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 10))),
    });
    // The wall clock jumped 3 h; only seconds passed on the boot clock.
    const stepped = await applyPendingRestart({
      codexHome: h.home,
      clock: clockAhead(3 * 3_600_000, 0),
      idleGapMs: 0,
    });
    assertEquals(stepped.status, "waiting");
    assertEquals(await exists(`${h.home}/fake-interrupts.jsonl`), false);
    // 61 minutes on the boot clock: the deadline has passed.
    const due = await applyPendingRestart({
      codexHome: h.home,
      clock: clockAhead(0, 61 * 60_000),
      idleGapMs: 0,
    });
    assertEquals(due.status, "applied", JSON.stringify(due));
    assertEquals(due.interruptedTurns?.length, 1);
    assertNotEquals(due.pid, started.json.pid);
  },
);

// ---- 4. stale pending restarts ----

Deno.test("update --version to the running version drops a deferred update; apply-pending never restarts 1.0.0 onto 1.0.0", async () => {
  const { startTestRegistry } = await import("../fixtures/test_registry.ts");
  await using registry = await startTestRegistry([{ version: "1.0.0" }, { version: "2.0.0" }]);
  await using h = await fakeHome({ version: "1.0.0", activeTurns: 1 });
  await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const started = await runCli(h.home, ["start"]);
  const deferred = await runCli(h.home, ["update", "--version", "2.0.0"], { env });
  assertEquals(deferred.json.restartPending, true, deferred.stdout + deferred.stderr);
  const back = await runCli(h.home, ["update", "--version", "1.0.0"], { env });
  assertEquals(back.code, 0, back.stdout + back.stderr);
  assertEquals(back.json.version, "1.0.0");
  assertEquals(back.json.restartPending, undefined);
  assertEquals((await runCli(h.home, ["status"])).json.pendingRestart, null);
  assertMatch(await readLog(h.home), /pending restart dropped: already serving 1\.0\.0/);
  // Even a stale file left behind is revalidated: current is what runs.
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "update",
    toVersion: "2.0.0",
    since: new Date(Date.now() - 48 * 3_600_000).toISOString(),
    deadline: new Date(Date.now() - 1000).toISOString(),
    reason: "update 1.0.0 -> 2.0.0",
  });
  assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "cleared");
  assertEquals(await exists(`${h.home}/fake-interrupts.jsonl`), false);
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);
});

Deno.test("a pending new-launch-flags restart is dropped once a manual stop + start launched with those flags", async () => {
  await using h = await fakeHome({ activeTurns: 1, remoteControl: "missing" });
  await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
  await runCli(h.home, ["bootstrap"]);
  const again = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(again.json.pendingRestart !== undefined, true, again.stdout);
  assertEquals((again.json.pendingRestart as Record<string, unknown>).appliedBy, "updater");
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  const restarted = await runCli(h.home, ["start"]);
  assertEquals(restarted.json.status, "started");
  // The fresh launch carries the flags: nothing is pending, nothing applies twice.
  assertEquals((await runCli(h.home, ["status"])).json.pendingRestart, null);
  assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "none");
  // A stale file written before that launch is revalidated away too.
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "restart",
    toVersion: null,
    since: new Date(Date.now() - 60_000).toISOString(),
    deadline: new Date(Date.now() - 1000).toISOString(),
    reason: "remote control setting",
  });
  await configureFake(h.home, { activeTurns: 1, remoteControl: "missing" });
  assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "cleared");
  assertEquals((await runCli(h.home, ["status"])).json.pid, restarted.json.pid);
  assertMatch(await readLog(h.home), /pending restart dropped: the app-server was relaunched/);
  await runCli(h.home, ["stop", "--all"]);
});

// ---- 5. a pending restart always has someone to apply it ----

Deno.test("on a home without an updater, a deferred update starts the pending-restart applier, which applies it once idle and exits", async () => {
  const { startTestRegistry } = await import("../fixtures/test_registry.ts");
  await using registry = await startTestRegistry([{ version: "2.0.0" }]);
  await using h = await fakeHome({ version: "1.0.0", activeTurns: 1 });
  await writeJson(`${h.home}/${STATE}/settings.json`, {
    updater: { supervision: { checkSeconds: 1 } },
  });
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const started = await runCli(h.home, ["start"]);
  const update = await runCli(h.home, ["update"], { env });
  assertEquals(update.json.restartPending, true, update.stdout + update.stderr);
  const pending = update.json.pendingRestart as Record<string, unknown>;
  assertEquals(pending.appliedBy, "applier");
  const status = await runCli(h.home, ["status"]);
  assertEquals((status.json.updater as Record<string, unknown>).running, false);
  assertEquals((status.json.pendingRestart as Record<string, unknown>).appliedBy, "applier");
  const record = JSON.parse(await Deno.readTextFile(`${h.home}/${STATE}/pending-applier.pid`));
  assert(isAlive(record.pid));

  await configureFake(h.home, { version: "1.0.0", activeTurns: 0 }); // the turn ends
  assert(
    await eventually(
      async () => (await runCli(h.home, ["status"])).json.appServerVersion === "2.0.0",
      60_000,
      250,
    ),
    "nothing applied the pending restart",
  );
  const after = await runCli(h.home, ["status"]);
  assertNotEquals(after.json.pid, started.json.pid);
  assertEquals(after.json.pendingRestart, null);
  assert(await eventually(() => !isAlive(record.pid), 30_000), "the applier did not exit");
  await runCli(h.home, ["stop"]);
});

// ---- autostart: disabling hands the server over without stopping it ----

Deno.test("stop --all as a unit's ExecStop under a fresh handover note stops the updater only; a user's stop --all stops everything", async () => {
  await using h = await fakeHome({});
  await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
  const boot = await runCli(h.home, ["bootstrap"]);
  const pid = boot.json.pid as number;
  const unit = "codexd-test-handover.service";
  const note = `${h.home}/${STATE}/autostart-handover`;
  await writeJson(note, { unit, untilMs: Date.now() + 60_000 });
  const execStop = await runCli(h.home, ["stop", "--all"], {
    env: { CODEXD_AUTOSTART_UNIT: unit },
  });
  assertEquals(execStop.code, 0, execStop.stdout + execStop.stderr);
  assertEquals(execStop.json.updaterStopped, true);
  assert(isAlive(pid), "the handover stopped the app-server");
  assert(await eventually(() => !isAlive(boot.json.updaterPid as number), 10_000));
  // Another unit's note, a stale note, or a user's own stop: a real stop.
  await writeJson(note, { unit, untilMs: Date.now() - 1 });
  const stale = await runCli(h.home, ["stop", "--all"], { env: { CODEXD_AUTOSTART_UNIT: unit } });
  assertEquals(stale.json.status, "stopped");
  assert(await eventually(() => !isAlive(pid), 10_000));
});

/**
 * A stand-in `systemctl` that logs its arguments, reports the unit active,
 * and on `disable --now` runs the unit's ExecStop as systemd would
 * (`stop --all` with `$CODEXD_AUTOSTART_UNIT`).
 */
async function fakeSystemctl(dir: string, home: string, unit: string): Promise<string> {
  const path = `${dir}/systemctl`;
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
echo "$*" >> ${q(`${dir}/systemctl.log`)}
case "$*" in
  *"show --property=Version"*) echo Version=252 ;;
  *is-active*) echo active ;;
  *"disable --now"*)
    CODEXD_AUTOSTART_UNIT=${q(unit)} CODEX_HOME=${q(home)} ${q(Deno.execPath())} run -A ${
      q(MOD_TS)
    } stop --all --codex-home ${q(home)} >/dev/null ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  return path;
}

Deno.test(
  "enable-autostart --remote-control and disable-autostart never restart or stop a busy app-server outside the gate",
  {
    // In-process (an injected systemd), with the fake app-server as a separate process.
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    const { enableAutostart, disableAutostart } = await import("../../lib/autostart.ts");
    const { unitFileName } = await import("../../lib/autostart/unit.ts");
    // A release without the remote-control methods: only a restart applies the flag.
    await using h = await fakeHome({ activeTurns: 1, remoteControl: "missing" });
    const dir = await Deno.makeTempDir({ prefix: "codexd-systemd-" });
    try {
      await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
      const started = await runCli(h.home, ["start"]);
      const pid = started.json.pid as number;
      const unit = unitFileName(h.home);
      await Deno.mkdir(`${dir}/linger`);
      await Deno.writeTextFile(`${dir}/linger/tester`, "");
      const options = {
        codexHome: h.home,
        locations: {
          home: dir,
          unitDir: `${dir}/units`,
          lingerDir: `${dir}/linger`,
          user: "tester",
        },
        systemd: {
          facts: {
            booted: true,
            systemctl: await fakeSystemctl(dir, h.home, unit),
            wsl: false,
            container: false,
          },
        },
      };
      const enabled = await enableAutostart({ ...options, remoteControl: true });
      assertEquals(enabled.status, "enabled");
      assertEquals(enabled.pendingRestart?.waitingFor, "activeTurns", JSON.stringify(enabled));
      assert(isAlive(pid));
      assertEquals(enabled.pid, pid);

      const disabled = await disableAutostart(options);
      assertEquals(disabled.status, "disabled");
      assert(isAlive(pid), "disable-autostart stopped the busy app-server");
      assertEquals(disabled.pid, pid);
      const calls = await Deno.readTextFile(`${dir}/systemctl.log`);
      assertMatch(calls, /disable --now/);
      assert(!/\breload\b(?!-)/.test(calls.replaceAll("daemon-reload", "")), calls);
      assertEquals(await exists(`${h.home}/${STATE}/autostart-handover`), false);
      await runCli(h.home, ["stop", "--all"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
