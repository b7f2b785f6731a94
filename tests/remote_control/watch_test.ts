/**
 * Presence that stays true: the remote-control watchdog's pure decision by
 * a table, and end to end on the real app-server (0.171.0) against the
 * loopback backend — the backend drops the WebSocket and refuses it (403);
 * the updater's watchdog switches remote control off and on live until
 * `connected` is back (one updater-log line per reconnect), the app-server
 * is never restarted and a running turn keeps running; after
 * `disable-remote-control` the backend sees no more connection attempts.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { eventually, runCli } from "../support/helpers.ts";
import { realHome } from "../support/real_codex.ts";
import { startFakeChatgptBackend, writeBackendHome } from "../support/fake_chatgpt_backend.ts";
import { startFakeResponses, writeMockProviderConfig } from "../fixtures/fake_responses.ts";
import { startTurn } from "../support/turns.ts";
import { decideReconnect, reconnectBackoffSeconds } from "../../lib/remote_control/watchdog.ts";
import {
  emptyWatchState,
  observe,
  type RemoteControlWatchState,
} from "../../lib/remote_control/watch_state.ts";

const POLICY = {
  checkSeconds: 60,
  staleAfterSeconds: 180,
  backoffBaseSeconds: 180,
  backoffMaxSeconds: 3600,
};
const T0 = Date.parse("2026-12-06T12:00:00Z");
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

function state(over: Partial<RemoteControlWatchState>): RemoteControlWatchState {
  return { ...emptyWatchState(), ...over };
}

Deno.test("decideReconnect() acts only on a stale non-connected state with a login, backing off", () => {
  const table: [string, RemoteControlWatchState, number, boolean, string][] = [
    ["connected", state({ status: "connected", since: at(0) }), 9999, true, "healthy"],
    ["nothing seen yet", state({}), 9999, true, "healthy"],
    ["errored, fresh", state({ status: "errored", since: at(0) }), 60, true, "wait"],
    ["errored, stale", state({ status: "errored", since: at(0) }), 180, true, "reconnect"],
    ["connecting, stale", state({ status: "connecting", since: at(0) }), 200, true, "reconnect"],
    ["disabled, stale", state({ status: "disabled", since: at(0) }), 200, true, "reconnect"],
    ["no login", state({ status: "errored", since: at(0) }), 9999, false, "skip"],
    [
      "within backoff",
      state({ status: "errored", since: at(0), lastReconnect: at(200), attempts: 1 }),
      300,
      true,
      "wait",
    ],
    [
      "backoff over",
      state({ status: "errored", since: at(0), lastReconnect: at(200), attempts: 1 }),
      380,
      true,
      "reconnect",
    ],
    [
      "backoff doubles",
      state({ status: "errored", since: at(0), lastReconnect: at(200), attempts: 2 }),
      380,
      true,
      "wait",
    ],
  ];
  for (const [name, s, seconds, loggedIn, kind] of table) {
    assertEquals(decideReconnect(s, POLICY, T0 + seconds * 1000, loggedIn).kind, kind, name);
  }
  const next = decideReconnect(
    state({ status: "errored", since: at(0), lastReconnect: at(200), attempts: 1 }),
    POLICY,
    T0 + 380_000,
    true,
  );
  assertEquals(next, { kind: "reconnect", attempt: 2 });
  assertEquals([0, 1, 2, 3, 10].map((n) => reconnectBackoffSeconds(n, POLICY)), [
    0,
    180,
    360,
    720,
    3600,
  ]);
});

Deno.test("observe() keeps since while the status holds, restarts it on a change, clears attempts once connected", () => {
  const first = observe(emptyWatchState(), "errored", new Date(T0));
  assertEquals(first.since, at(0));
  const same = observe({ ...first, attempts: 2 }, "errored", new Date(T0 + 60_000));
  assertEquals(same.since, at(0));
  assertEquals(same.attempts, 2);
  const back = observe(same, "connected", new Date(T0 + 90_000));
  assertEquals(back.since, at(90));
  assertEquals(back.attempts, 0);
});

async function statusOf(home: string): Promise<Record<string, unknown>> {
  return (await runCli(home, ["status"])).json;
}

function rc(status: Record<string, unknown>): Record<string, unknown> {
  return (status.remoteControl ?? {}) as Record<string, unknown>;
}

async function reconnectLines(home: string): Promise<string[]> {
  const log = await Deno.readTextFile(`${home}/app-server-daemon/app-server-updater.log`)
    .catch(() => "");
  return log.split("\n").filter((line) => line.includes("switched it off and on again"));
}

Deno.test("the watchdog brings connected back after a dropped and refused WebSocket, live: same pid, the turn runs on; disable stops it", async () => {
  await using h = await realHome("0.171.0");
  await using backend = startFakeChatgptBackend();
  await using responses = startFakeResponses({ turnSeconds: 45 });
  await writeMockProviderConfig(h.home, responses.baseUrl);
  await writeBackendHome(h.home, backend);
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({
      updater: {
        firstPassDelaySeconds: 3600,
        supervision: { checkSeconds: 1 },
        remoteControlWatch: {
          checkSeconds: 1,
          staleAfterSeconds: 1,
          backoffBaseSeconds: 1,
          backoffMaxSeconds: 2,
        },
      },
    }),
  );
  try {
    const boot = await runCli(h.home, ["bootstrap", "--remote-control"]);
    assertEquals(boot.code, 0, boot.stdout + boot.stderr);
    assertEquals(rc(boot.json).status, "connected");
    const pid = boot.json.pid;

    await using turn = await startTurn(h.home, "codexd_watch_test");
    assert(await eventually(async () => (await statusOf(h.home)).activeTurns === 1, 30_000));

    // The backend drops the WebSocket and refuses it from now on (403).
    backend.setWebSocketMode("refuse");
    backend.dropWebSockets();
    assert(
      await eventually(async () => (await reconnectLines(h.home)).length >= 2, 90_000, 250),
      "the watchdog reconnects while the backend refuses",
    );
    const during = await statusOf(h.home);
    assert(rc(during).status !== "connected", JSON.stringify(during.remoteControl));
    assert((rc(during).reconnects as number) >= 2);
    assertEquals(during.activeTurns, 1, "the turn runs through the reconnects");
    assertMatch(rc(during).lastReconnect as string, /^\d{4}-/);
    assert(typeof rc(during).sinceSeconds === "number");

    // The backend is back: the watchdog's next off/on connects at once
    // (the server's own retry backoff has grown past its 2 s by now).
    backend.setWebSocketMode("accept");
    assert(
      await eventually(
        async () => (await reconnectLines(h.home)).some((line) => line.endsWith("now connected")),
        90_000,
        250,
      ),
      (await reconnectLines(h.home)).join("\n"),
    );
    const after = await statusOf(h.home);
    assertEquals(rc(after).status, "connected");
    assertEquals(after.pid, pid, "the app-server was never restarted");
    for (const line of await reconnectLines(h.home)) {
      assertMatch(line, new RegExp(`app-server pid ${pid} kept`));
    }
    assertEquals(await turn.ended, "completed", "the running turn kept running");

    // Disabled: no watchdog pass, no reconnect; the backend sees nothing more.
    const disabled = await runCli(h.home, ["disable-remote-control"]);
    assertEquals(disabled.code, 0, disabled.stdout);
    assertEquals(rc(disabled.json).status, "disabled");
    const attempts = backend.wsAttempts();
    const lines = (await reconnectLines(h.home)).length;
    // Several watchdog periods (1 s each) pass; nothing may happen in them.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    assertEquals(backend.wsAttempts(), attempts, "no reconnects after disable");
    assertEquals((await reconnectLines(h.home)).length, lines);
    assertEquals((await statusOf(h.home)).pid, pid);
  } finally {
    await runCli(h.home, ["stop", "--all"]);
  }
});
