/**
 * Turn safety against the fake app-server: `status` counts running turns
 * through `server/diagnostics` and falls back to the stable thread API when
 * diagnostics or the experimental capability is refused; `stop`/`restart`
 * report or wait for turns; `apply-pending` honours busy servers, the
 * maintenance window and the deadline.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  configureFake,
  type FakeConfig,
  fakeHome,
  fakeLaunches,
  isAlive,
  runCli,
} from "../support/helpers.ts";

const PENDING = "app-server-daemon/pending-restart.json";

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** `HH:MM` of local time `minutes` from now. */
function localClock(minutes: number): string {
  const date = new Date(Date.now() + minutes * 60_000);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

Deno.test("status counts running turns by diagnostics, by the stable path when refused, and null when stopped", async () => {
  await using h = await fakeHome({ activeTurns: 2 });
  const stopped = await runCli(h.home, ["status"]);
  assertEquals(stopped.json.activeTurns, null);
  assertEquals(stopped.json.activeTurnsReason, "app-server not answering");
  assertEquals(stopped.json.pendingRestart, null);
  assertEquals((await runCli(h.home, ["start"])).code, 0);
  const knobs: FakeConfig[] = [
    { activeTurns: 2 },
    { activeTurns: 2, rejectDiagnostics: true },
    { activeTurns: 2, rejectExperimental: true },
  ];
  for (const knob of knobs) {
    await configureFake(h.home, knob);
    const status = await runCli(h.home, ["status"]);
    assertEquals(status.json.status, "running", JSON.stringify(knob));
    assertEquals(status.json.activeTurns, 2, JSON.stringify(knob));
  }
  // Before the first thread the gauge is absent: 0.
  await configureFake(h.home, {});
  assertEquals((await runCli(h.home, ["status"])).json.activeTurns, 0);
});

Deno.test("restart reports activeTurns and a warning; stop --when-idle gives up with STILL_BUSY and leaves the server running", async () => {
  await using h = await fakeHome({ activeTurns: 1 });
  const started = await runCli(h.home, ["start"]);
  const restarted = await runCli(h.home, ["restart", "--grace-seconds", "none"]);
  assertEquals(restarted.code, 0, restarted.stderr);
  assertEquals(restarted.json.status, "restarted");
  assertEquals(restarted.json.activeTurns, 1);
  assertMatch(String(restarted.json.warnings), /1 turn running at restart/);
  assertNotEquals(restarted.json.pid, started.json.pid);

  const busy = await runCli(h.home, ["stop", "--when-idle", "--idle-timeout-seconds", "0"]);
  assertEquals(busy.code, 1);
  assertEquals(busy.json.code, "STILL_BUSY");
  assertEquals(busy.json.activeTurns, 1);
  assert(isAlive(restarted.json.pid as number));

  const usage = await runCli(h.home, ["stop", "--idle-timeout-seconds", "5"]);
  assertEquals(usage.code, 2);
});

Deno.test("restart --when-idle waits until the turns end, then reports what it waited for", async () => {
  await using h = await fakeHome({ activeTurns: 1 });
  await runCli(h.home, ["start"]);
  const restarting = runCli(h.home, ["restart", "--when-idle", "--idle-timeout-seconds", "60"]);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await configureFake(h.home, { activeTurns: 0 });
  const restarted = await restarting;
  assertEquals(restarted.code, 0, restarted.stderr);
  assertEquals(restarted.json.status, "restarted");
  const waited = restarted.json.waitedForIdle as { seconds: number; activeTurnsAtStart: number };
  assertEquals(waited.activeTurnsAtStart, 1);
  assertEquals(restarted.json.activeTurns, undefined);
});

/** A pending restart (no version change) recorded now in `home`. */
async function writePendingNow(home: string): Promise<void> {
  await writeJson(`${home}/${PENDING}`, {
    kind: "restart",
    toVersion: null,
    since: new Date().toISOString(),
    deadline: null,
    reason: "test",
  });
}

Deno.test("apply-pending waits while busy, applies once idle, and drops a restart with no server", async () => {
  await using h = await fakeHome({ activeTurns: 1 });
  const started = await runCli(h.home, ["start"]);
  await writePendingNow(h.home);
  const waiting = await runCli(h.home, ["apply-pending"]);
  assertEquals(waiting.json.status, "waiting");
  assertEquals(waiting.json.activeTurns, 1);
  const status = await runCli(h.home, ["status"]);
  assertEquals((status.json.pendingRestart as Record<string, unknown>).waitingFor, "activeTurns");
  assertEquals(status.json.pid, started.json.pid);

  await configureFake(h.home, { activeTurns: 0 });
  const applied = await runCli(h.home, ["apply-pending"]);
  assertEquals(applied.json.status, "applied");
  assertNotEquals(applied.json.pid, started.json.pid);
  assertEquals(await exists(`${h.home}/${PENDING}`), false);
  assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "none");

  await writePendingNow(h.home);
  await runCli(h.home, ["stop"]);
  assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "cleared");
  const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
  assertMatch(log, /restart deferred \(test\): 1 active turn/);
  assertMatch(log, /restart applied \(idle\): test/);
  assertMatch(log, /pending restart dropped: no app-server running/);
});

Deno.test("apply-pending never restarts outside the window, even when idle, and does once it opens", async () => {
  await using h = await fakeHome({ activeTurns: 0 });
  const started = await runCli(h.home, ["start"]);
  const settings = `${h.home}/app-server-daemon/settings.json`;
  // A window that opens an hour from now: closed now.
  await writeJson(settings, { updater: { restartWindow: `${localClock(60)}-${localClock(120)}` } });
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "restart",
    toVersion: null,
    since: new Date().toISOString(),
    deadline: new Date(Date.now() - 1000).toISOString(),
    reason: "window test",
  });
  const closed = await runCli(h.home, ["apply-pending"]);
  assertEquals(closed.json.status, "waiting");
  assertEquals((closed.json.pendingRestart as Record<string, unknown>).waitingFor, "window");
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);

  // A window around now: open.
  await writeJson(settings, { updater: { restartWindow: `${localClock(-5)}-${localClock(60)}` } });
  const open = await runCli(h.home, ["apply-pending"]);
  assertEquals(open.json.status, "applied");
  assertNotEquals(open.json.pid, started.json.pid);
});

Deno.test("past its deadline a pending restart interrupts the running turns, then restarts", async () => {
  await using h = await fakeHome({ activeTurns: 2 });
  const started = await runCli(h.home, ["start"]);
  // New launch flags (remote control on) wait; the deadline (current settings: 30 min) passed.
  await writeJson(`${h.home}/app-server-daemon/settings.json`, {
    remoteControlEnabled: true,
    updater: { restartDeadlineMinutes: 30 },
  });
  await writeJson(`${h.home}/${PENDING}`, {
    kind: "restart",
    toVersion: null,
    since: new Date(Date.now() - 3_600_000).toISOString(),
    deadline: null,
    reason: "deadline test",
  });
  const forced = await runCli(h.home, ["apply-pending"]);
  assertEquals(forced.json.status, "applied", forced.stdout + forced.stderr);
  assertNotEquals(forced.json.pid, started.json.pid);
  assertEquals((forced.json.interruptedTurns as unknown[]).length, 2);
  const interrupts = (await Deno.readTextFile(`${h.home}/fake-interrupts.jsonl`)).trim().split(
    "\n",
  );
  assertEquals(interrupts.map((line) => JSON.parse(line).threadId).sort(), [
    "thread-0",
    "thread-1",
  ]);
  const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
  assertMatch(log, /restart deadline .* passed \(deadline test\): interrupted 2 turns/);
  assertMatch(log, /restart applied after interrupting: deadline test/);
});

Deno.test("update defers the restart while a turn runs; update --now restarts at once", async () => {
  const { startTestRegistry } = await import("../fixtures/test_registry.ts");
  await using registry = await startTestRegistry([{ version: "2.0.0" }]);
  await using h = await fakeHome({ version: "1.0.0", activeTurns: 1 });
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const started = await runCli(h.home, ["start"]);
  const update = await runCli(h.home, ["update"], { env });
  assertEquals(update.code, 0, update.stdout + update.stderr);
  assertEquals(update.json.installed, true);
  assertEquals(update.json.version, "2.0.0");
  assertEquals(update.json.restarted, false);
  assertEquals(update.json.restartPending, true);
  assertEquals(update.json.activeTurns, 1);
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.pid, started.json.pid);
  assertEquals(status.json.appServerVersion, "1.0.0");
  assertEquals((status.json.pendingRestart as Record<string, unknown>).toVersion, "2.0.0");

  const now = await runCli(h.home, ["update", "--now"], { env });
  assertEquals(now.code, 0, now.stdout + now.stderr);
  assertEquals(now.json.restarted, true);
  assertEquals(now.json.appServerVersion, "2.0.0");
  assertNotEquals(now.json.pid, started.json.pid);
  assertEquals((await runCli(h.home, ["status"])).json.pendingRestart, null);
  const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
  assertMatch(log, /restart deferred \(update 1.0.0 -> 2.0.0\): 1 active turn/);
  assertMatch(log, /restart applied at once \(--now\): update 1.0.0 -> 2.0.0/);
});

Deno.test("bootstrap with new launch flags waits for running turns; the updater's apply-pending relaunches with them once idle", async () => {
  // A release that cannot switch remote control live: only a restart applies it.
  await using h = await fakeHome({ activeTurns: 1, remoteControl: "missing" });
  await writeJson(`${h.home}/app-server-daemon/settings.json`, {
    updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 3600 } },
  });
  const first = await runCli(h.home, ["bootstrap"]);
  assertEquals(first.code, 0, first.stdout + first.stderr);
  const again = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(again.code, 0, again.stdout + again.stderr);
  assertEquals(again.json.appServer, "alreadyRunning");
  assertEquals(again.json.pid, first.json.pid);
  const pending = again.json.pendingRestart as Record<string, unknown>;
  assertMatch(
    pending.reason as string,
    /^remote control setting: app-server 9\.9\.9 has no remote-control methods/,
  );
  assertEquals(pending.toVersion, null);

  await configureFake(h.home, { activeTurns: 0 });
  const applied = await runCli(h.home, ["apply-pending"]);
  assertEquals(applied.json.status, "applied", applied.stdout + applied.stderr);
  assertNotEquals(applied.json.pid, first.json.pid);
  const launches = await fakeLaunches(h.home);
  assertEquals(launches.at(-1)?.args.includes("--remote-control"), true);
  assertEquals(await exists(`${h.home}/${PENDING}`), false);
  await runCli(h.home, ["stop", "--all"]);
});
