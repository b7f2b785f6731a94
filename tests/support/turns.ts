/**
 * Test support for real turns: a client with a chosen name that starts a
 * thread and a turn on a home's app-server and waits for the turn to end.
 * The turn's model traffic goes to `tests/fixtures/fake_responses.ts`.
 *
 * @module
 */
import { type AppServerClient, connectAppServer } from "../../lib/app_server/client.ts";
import { daemonPaths } from "../../lib/state/paths.ts";

/** A turn a test started; dispose to close its client. */
export interface RunningTurn extends AsyncDisposable {
  /** The client that started it (subscribed to the thread). */
  client: AppServerClient;
  /** Its thread. */
  threadId: string;
  /** The turn. */
  turnId: string;
  /** Resolves with the turn's final status (`completed`, `interrupted`, …), or `undefined` if the connection closed first. */
  ended: Promise<string | undefined>;
}

/** Connects as `clientName`, starts a thread in `home` and one turn in it. */
export async function startTurn(
  home: string,
  clientName: string,
  text = "work for a while",
  endTimeoutMs = 180_000,
): Promise<RunningTurn> {
  const client = await connectAppServer(daemonPaths(home).socketPath, { clientName });
  const started = await client.request<{ thread: { id: string } }>("thread/start", { cwd: home });
  const threadId = started.thread.id;
  const turn = await client.request<{ turn: { id: string } }>("turn/start", {
    threadId,
    input: [{ type: "text", text }],
  });
  const ended = client.nextNotification("turn/completed", endTimeoutMs).then((n) =>
    (n?.params as { turn?: { status?: string } } | undefined)?.turn?.status
  );
  return {
    client,
    threadId,
    turnId: turn.turn.id,
    ended,
    [Symbol.asyncDispose]: () => client.close(),
  };
}

/** The saved status of the thread's latest turn, read by a fresh client. */
export async function lastTurnStatus(home: string, threadId: string): Promise<string | undefined> {
  await using client = await connectAppServer(daemonPaths(home).socketPath, {
    clientName: "codexd_turns_test_reader",
  });
  const turns = await client.request<{ data?: { status?: string }[] }>(
    "thread/turns/list",
    { threadId, limit: 1 },
  );
  return turns.data?.[0]?.status;
}
