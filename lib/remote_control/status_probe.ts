/**
 * `status`'s one connection to the app-server: `initialize` with the
 * experimental API, the running-turn count (turn safety's
 * `countActiveTurns`) and `remoteControl/status/read`, then close. Bounded
 * and never throws: what cannot be learnt is `null` with a reason. Touches
 * no files.
 *
 * @module
 */
import type { AppServerClient } from "../app_server/client.ts";
import { describeError } from "../errors.ts";
import { connectForTurns, countActiveTurns, type ServerTurns } from "../idle/probe.ts";
import { NOT_ANSWERING, readViewOn, type ServerView } from "./view.ts";

/** What `status` learns from the running server. */
export type ServerStatus = ServerTurns & Omit<ServerView, "info" | "timedOut">;

/** One session: the turn count and the remote-control view. */
export async function readServerStatus(
  socketPath: string,
  timeoutMs: number,
): Promise<ServerStatus> {
  let client: AppServerClient;
  try {
    client = await connectForTurns(socketPath, timeoutMs);
  } catch {
    return {
      activeTurns: null,
      activeTurnsReason: "app-server not answering",
      remoteControl: null,
      remoteControlReason: NOT_ANSWERING,
    };
  }
  try {
    let turns: ServerTurns;
    try {
      const count = await countActiveTurns(client, Math.max(timeoutMs, 1_000));
      turns = { info: client.info, activeTurns: count.activeTurns, via: count.via };
    } catch (error) {
      turns = {
        info: client.info,
        activeTurns: null,
        activeTurnsReason: `cannot count turns: ${describeError(error)}`,
      };
    }
    const view = await readViewOn(client, { requestTimeoutMs: Math.max(timeoutMs, 1_000) });
    return {
      ...turns,
      remoteControl: view.remoteControl,
      ...(view.remoteControlReason ? { remoteControlReason: view.remoteControlReason } : {}),
    };
  } finally {
    await client.close();
  }
}
