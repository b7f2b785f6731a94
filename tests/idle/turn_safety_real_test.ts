/**
 * Turn-safety regressions against the real app-server 0.169.0, offline (the
 * turns' model traffic goes to the loopback fake Responses provider): a
 * `stop --when-idle` that saw idle before it got `daemon.lock` does not cut
 * a turn that started while it waited for the lock; a live server whose
 * socket is gone is never taken for idle by `apply-pending` or
 * `enable-remote-control`, and its turn completes.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { cliRun, eventually, hasOpen, isAlive, MOD_TS, runCli } from "../support/helpers.ts";
import { realHome } from "../support/real_codex.ts";
import { startFakeResponses, writeMockProviderConfig } from "../fixtures/fake_responses.ts";
import { startTurn } from "../support/turns.ts";
import { acquireDaemonLock } from "../../lib/state/daemon_lock.ts";

const STATE = "app-server-daemon";

async function statusOf(home: string): Promise<Record<string, unknown>> {
  return (await runCli(home, ["status"])).json;
}

Deno.test("stop --when-idle that saw idle before taking daemon.lock waits for a real turn that started meanwhile", async () => {
  await using h = await realHome();
  await using fake = startFakeResponses({ turnSeconds: 8 });
  await writeMockProviderConfig(h.home, fake.baseUrl);
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.json.status, "started", started.stdout + started.stderr);
  const lockFile = `${h.home}/${STATE}/daemon.lock`;
  // Another command holds the lock (as the audit's 15 s holder did).
  const lock = await acquireDaemonLock(lockFile);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_TS, "stop", "--when-idle", "--idle-timeout-seconds", "300"],
    env: { CODEX_HOME: h.home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stopping = child.output().then(cliRun);
  let turn: Awaited<ReturnType<typeof startTurn>> | undefined;
  try {
    try {
      // Idle seen without the lock: it now waits for the lock.
      assert(await eventually(() => hasOpen(child.pid, lockFile), 60_000, 20));
      turn = await startTurn(h.home, "codexd_turns_test");
      assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
    } finally {
      await lock.release();
    }
    const stopped = await stopping;
    assertEquals(stopped.code, 0, stopped.stdout + stopped.stderr);
    assertEquals(stopped.json.status, "stopped");
    assert(stopped.json.waitedForIdle !== undefined);
    // The turn ran to its end before the stop: never cut.
    assertEquals(await turn.ended, "completed");
    assertEquals(fake.completed(), 1);
  } finally {
    await turn?.client.close();
    await stopping.catch(() => undefined);
  }
});

Deno.test("a real app-server whose socket is gone keeps its turn: apply-pending and enable-remote-control hold the restart", async () => {
  await using h = await realHome();
  await using fake = startFakeResponses({ turnSeconds: 12 });
  await writeMockProviderConfig(h.home, fake.baseUrl);
  await Deno.mkdir(`${h.home}/${STATE}`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/${STATE}/settings.json`,
    JSON.stringify({ updater: { supervision: { checkSeconds: 3600 } } }),
  );
  const started = await runCli(h.home, ["start"]);
  const pid = started.json.pid as number;
  await using turn = await startTurn(h.home, "codexd_turns_test");
  assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 20_000));
  // A restart waits, deadline "never" (the audit's setup).
  await Deno.writeTextFile(
    `${h.home}/${STATE}/pending-restart.json`,
    JSON.stringify({
      kind: "update",
      toVersion: "0.171.0",
      since: new Date().toISOString(),
      deadline: null,
      reason: "update 0.169.0 -> 0.171.0",
    }),
  );
  // The socket is gone; the process (and the turn's own connection) live on.
  await Deno.remove(`${h.home}/app-server-control/app-server-control.sock`);
  const held = await runCli(h.home, ["apply-pending"]);
  assertEquals(held.json.status, "waiting", held.stdout + held.stderr);
  assertEquals((held.json.pendingRestart as Record<string, unknown>).waitingFor, "answer");
  const enabled = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
  assertEquals(enabled.json.applied, "pendingRestart");
  assertEquals(enabled.json.restarted, false);
  assert(isAlive(pid), "the server was restarted blind");
  assertEquals(await turn.ended, "completed");
  assertEquals(fake.completed(), 1);
  const log = await Deno.readTextFile(`${h.home}/${STATE}/app-server-updater.log`);
  assertMatch(log, /cannot tell whether turns run/);
  assert(!/restart applied/.test(log), log);
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
});
