/**
 * Turn safety against the real app-server, offline: turns go to a loopback
 * fake Responses provider. The originator of model traffic is the user's
 * client, never codexd; an update never kills a running turn (the restart
 * waits, then the updater applies it once idle); a pending restart past its
 * deadline interrupts the turn (saved as interrupted) and restarts;
 * `restart --when-idle` waits for a turn and a plain `restart` reports it.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import { disposableHome, eventually, runCli } from "../support/helpers.ts";
import { layoutRealRelease, realHome } from "../support/real_codex.ts";
import { startFakeResponses, writeMockProviderConfig } from "../fixtures/fake_responses.ts";
import { lastTurnStatus, startTurn } from "../support/turns.ts";

const OLD = "0.166.0";
const NEW = "0.169.0";

async function statusOf(home: string): Promise<Record<string, unknown>> {
  return (await runCli(home, ["status"])).json;
}

Deno.test("the model traffic of a real app-server started by codexd carries the user's client name as originator", async () => {
  await using h = await realHome(NEW);
  await using fake = startFakeResponses({ turnSeconds: 1 });
  await writeMockProviderConfig(h.home, fake.baseUrl);
  assertEquals((await runCli(h.home, ["start"])).json.status, "started");
  const name = "codexd_test_client_x";
  {
    await using turn = await startTurn(h.home, name);
    assertEquals(await turn.ended, "completed");
  }
  // codexd's own connections in between (status probes diagnostics) change nothing.
  assertEquals((await statusOf(h.home)).activeTurns, 0);
  {
    await using turn = await startTurn(h.home, name);
    assertEquals(await turn.ended, "completed");
  }
  const calls = fake.requests.filter((r) => r.path.endsWith("/responses"));
  assert(calls.length >= 2, JSON.stringify(fake.requests));
  for (const call of calls) {
    assertEquals(call.headers.originator, name);
    assertMatch(call.headers["user-agent"], new RegExp(`^${name}/`));
  }
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
});

Deno.test("an update never kills a running turn: the restart waits and the updater applies it once idle; past the deadline it interrupts", async () => {
  await using h = disposableHome(await Deno.makeTempDir({ prefix: "codexd-turns-" }));
  await layoutRealRelease(h.home, NEW);
  await layoutRealRelease(h.home, OLD); // current -> OLD, NEW already unpacked
  await using fake = startFakeResponses({ turnSeconds: 15 });
  await writeMockProviderConfig(h.home, fake.baseUrl);
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    // The updater's own update pass stays out of the way; checks every second.
    JSON.stringify({ updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 1 } } }),
  );
  const boot = await runCli(h.home, ["bootstrap"]);
  assertEquals(boot.code, 0, boot.stdout + boot.stderr);
  assertEquals(boot.json.appServerVersion, OLD);
  const oldPid = boot.json.pid;
  const log = `${h.home}/app-server-daemon/app-server-updater.log`;

  // 1. `update` while a turn runs.
  {
    await using turn = await startTurn(h.home, "codexd_turns_test");
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    const update = await runCli(h.home, ["update", "--version", NEW]);
    console.log(update.stdout.trim());
    assertEquals(update.code, 0, update.stdout + update.stderr);
    assertEquals(update.json.installed, true);
    assertEquals(update.json.version, NEW);
    assertEquals(update.json.restarted, false);
    assertEquals(update.json.restartPending, true);
    assertEquals(update.json.activeTurns, 1);
    assertEquals((update.json.pendingRestart as Record<string, unknown>).toVersion, NEW);
    const during = await statusOf(h.home);
    assertEquals(during.pid, oldPid);
    assertEquals(during.appServerVersion, OLD);
    assertEquals((during.pendingRestart as Record<string, unknown>).waitingFor, "activeTurns");
    // The turn ends on the server that started it: its client never lost the connection.
    assertEquals(await turn.ended, "completed");
    assertEquals(fake.completed(), 1);
  }
  assert(
    await eventually(async () => (await statusOf(h.home)).appServerVersion === NEW, 30_000, 250),
    "the updater did not apply the pending restart",
  );
  const afterUpdate = await statusOf(h.home);
  assertNotEquals(afterUpdate.pid, oldPid);
  assertEquals(afterUpdate.pendingRestart, null);

  // 2. The same with an updater pass (to the other release, pinned).
  {
    fake.setTurnSeconds(12);
    await using turn = await startTurn(h.home, "codexd_turns_test");
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    const pass = await runCli(h.home, ["update", "--updater-pass", "--version", OLD]);
    assertEquals(pass.code, 0, pass.stdout + pass.stderr);
    assertEquals(pass.json.restarted, false);
    assertEquals(pass.json.restartPending, true);
    const during = await statusOf(h.home);
    assertEquals(during.pid, afterUpdate.pid);
    assertMatch(String((during.updater as Record<string, unknown>).lastResult), /restart pending/);
    assertEquals(await turn.ended, "completed");
  }
  assert(
    await eventually(async () => (await statusOf(h.home)).appServerVersion === OLD, 30_000, 250),
    "the updater did not apply the pending restart of the updater pass",
  );

  // 3. Past the deadline: the turn is interrupted (and saved so), then the restart happens.
  const beforeDeadline = await statusOf(h.home);
  fake.setTurnSeconds(300);
  const turn = await startTurn(h.home, "codexd_turns_test");
  try {
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    // A restart that still changes something (new launch flags: a pending
    // restart that changes nothing is dropped as moot), deferred a day ago
    // under the default 24 h deadline.
    const settingsFile = `${h.home}/app-server-daemon/settings.json`;
    const saved = JSON.parse(await Deno.readTextFile(settingsFile));
    await Deno.writeTextFile(
      settingsFile,
      JSON.stringify({ ...saved, remoteControlEnabled: true }),
    );
    await Deno.writeTextFile(
      `${h.home}/app-server-daemon/pending-restart.json`,
      JSON.stringify({
        kind: "restart",
        toVersion: null,
        since: new Date(Date.now() - 86_400_000).toISOString(),
        deadline: new Date(Date.now() - 1000).toISOString(),
        reason: "deadline test",
      }),
    );
    assert(
      await eventually(
        async () => (await statusOf(h.home)).pid !== beforeDeadline.pid,
        30_000,
        250,
      ),
      "the deadline did not force the restart",
    );
    assertEquals(await turn.ended.catch(() => undefined) ?? "interrupted", "interrupted");
  } finally {
    await turn.client.close();
  }
  assert(await eventually(async () => (await statusOf(h.home)).status === "running", 10_000));
  assertEquals(await lastTurnStatus(h.home, turn.threadId), "interrupted");

  const lines = (await Deno.readTextFile(log)).split("\n").filter((line) =>
    /restart|pending/.test(line)
  );
  console.log(lines.join("\n"));
  assert(
    lines.some((l) => /restart deferred \(update 0.166.0 -> 0.169.0\): 1 active turn/.test(l)),
  );
  assert(lines.some((l) => /restart applied \(idle\): update 0.166.0 -> 0.169.0/.test(l)));
  assert(
    lines.some((l) => /restart deferred \(update 0.169.0 -> 0.166.0\): 1 active turn/.test(l)),
  );
  assert(lines.some((l) => /passed \(deadline test\): interrupted 1 turn/.test(l)));
  assertEquals((await runCli(h.home, ["stop", "--all"])).json.status, "stopped");
});

Deno.test("restart --when-idle waits for a real turn to finish; a plain restart reports the turn it drains", async () => {
  await using h = await realHome(NEW);
  await using fake = startFakeResponses({ turnSeconds: 6 });
  await writeMockProviderConfig(h.home, fake.baseUrl);
  const started = await runCli(h.home, ["start"]);
  {
    await using turn = await startTurn(h.home, "codexd_turns_test");
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    const restarted = await runCli(h.home, ["restart", "--when-idle"]);
    assertEquals(restarted.code, 0, restarted.stdout + restarted.stderr);
    assertEquals(restarted.json.status, "restarted");
    assertNotEquals(restarted.json.pid, started.json.pid);
    const waited = restarted.json.waitedForIdle as Record<string, number>;
    assertEquals(waited.activeTurnsAtStart, 1);
    assertEquals(await turn.ended, "completed", "the turn did not end before the restart");
  }
  {
    await using turn = await startTurn(h.home, "codexd_turns_test");
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    const restarted = await runCli(h.home, ["restart"]);
    assertEquals(restarted.json.status, "restarted");
    assertEquals(restarted.json.activeTurns, 1);
    assertMatch(String(restarted.json.warnings), /1 turn running at restart/);
    // The drain let it finish before the old server exited (its client was
    // disconnected at SIGTERM; the saved thread tells).
    await turn.ended;
    assertEquals(await lastTurnStatus(h.home, turn.threadId), "completed");
  }
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
});
