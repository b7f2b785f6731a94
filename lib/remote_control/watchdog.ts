/**
 * The remote-control watchdog: one pass, run by the updater loop every
 * `updater.remoteControlWatch.checkSeconds` while remote control is enabled
 * (`codexd watch-remote-control`). It reads the server's status, records
 * since when it holds (`remote-control-state.json`), and — only when the
 * server has been `errored`/`connecting` longer than `staleAfterSeconds`
 * with a ChatGPT login present — switches remote control off and on again
 * live (`ephemeral`), with a doubling backoff between attempts. It never
 * restarts the app-server. One updater-log line per reconnect.
 *
 * Why (measured with the loopback backend, real 0.171.0): the app-server
 * retries by itself after a dropped or refused WebSocket, a handshake that
 * hangs, a WebSocket that goes silent (its ping times out after ~60 s) and a
 * forgotten enrollment (404: it enrolls again), but its retry backoff grows
 * with the outage (a 30 s refusal left it waiting ~19 s more after the
 * backend returned): a live off/on retries at once. A revoked enrollment
 * (refresh answered 401/410) it never leaves, and an off/on does not help
 * either (it refreshes the same enrollment); the watchdog then only retries
 * at its backoff, and `status` shows how long the state has lasted.
 *
 * The decision ({@linkcode decideReconnect}) is pure and tested by a table;
 * {@linkcode watchRemoteControlOnce} is the I/O under a try-lock (a busy lock
 * means a user command is acting: skip).
 *
 * @module
 */
import type { AppServerClient } from "../app_server/client.ts";
import { createContext, type DaemonOptions } from "../server/context.ts";
import { tryAcquireDaemonLock } from "../state/daemon_lock.ts";
import { describeError } from "../errors.ts";
import { connectForTurns } from "../idle/probe.ts";
import { readServerState } from "../server/server_record.ts";
import { loadSettingsLenient, type RemoteControlWatchSettings } from "../state/settings.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";
import { explainAccount, type RemoteControlView } from "../app_server/remote_control.ts";
import { readRemoteControl, settle, settleTimeoutOf, switchRemoteControl } from "./session.ts";
import {
  observe,
  readWatchState,
  type RemoteControlWatchState,
  writeWatchState,
} from "./watch_state.ts";

/** What the watchdog should do now. */
export type ReconnectDecision =
  /** Connected: nothing to do. */
  | { kind: "healthy" }
  /** Not connected, but not for long enough yet, or within the backoff. */
  | { kind: "wait"; untilMs: number }
  /** A reconnect cannot help (no ChatGPT login). */
  | { kind: "skip"; reason: string }
  /** Switch remote control off and on again: reconnect number `attempt` since the last `connected`. */
  | { kind: "reconnect"; attempt: number };

/** Wait before reconnect number `attempts + 1` after `attempts` that did not help. */
export function reconnectBackoffSeconds(
  attempts: number,
  policy: RemoteControlWatchSettings,
): number {
  if (attempts <= 0) return 0;
  return Math.min(policy.backoffBaseSeconds * 2 ** (attempts - 1), policy.backoffMaxSeconds);
}

/**
 * Decides from the recorded state (already holding the current status):
 * connected is healthy; without a login nothing helps; otherwise reconnect
 * once the state is older than `staleAfterSeconds` and the backoff since
 * the last reconnect has passed.
 */
export function decideReconnect(
  state: RemoteControlWatchState,
  policy: RemoteControlWatchSettings,
  nowMs: number,
  loggedIn: boolean,
): ReconnectDecision {
  if (state.status === "connected" || state.status === null) return { kind: "healthy" };
  if (!loggedIn) return { kind: "skip", reason: "no ChatGPT login: run codex login" };
  const sinceMs = state.since ? Date.parse(state.since) : nowMs;
  const staleAt = sinceMs + policy.staleAfterSeconds * 1000;
  const lastMs = state.lastReconnect ? Date.parse(state.lastReconnect) : undefined;
  const backoffAt = state.attempts > 0 && lastMs !== undefined
    ? lastMs + reconnectBackoffSeconds(state.attempts, policy) * 1000
    : 0;
  const untilMs = Math.max(staleAt, backoffAt);
  if (nowMs < untilMs) return { kind: "wait", untilMs };
  return { kind: "reconnect", attempt: state.attempts + 1 };
}

/** What one pass did. */
export interface WatchResult {
  /** `reconnected`, `checked`, or why nothing was checked. */
  status: "reconnected" | "checked" | "busy" | "off" | "notRunning" | "notAnswering";
  /** The server's status after the pass, when it was asked. */
  remoteControl?: RemoteControlView | null;
  /** The decision taken. */
  decision?: ReconnectDecision;
  /** The recorded state after the pass. */
  watch?: RemoteControlWatchState;
  /** Why the status could not be read. */
  reason?: string;
}

/**
 * Whether a reconnect can help: a server that once enrolled (it has an
 * environment) has a login, whatever `account/read` says (measured: with a
 * non-OpenAI model provider it reports no account while remote control
 * uses auth.json); else ask `account/read`.
 */
async function loggedInOn(client: AppServerClient, view: RemoteControlView): Promise<boolean> {
  if (view.environmentId) return true;
  try {
    return explainAccount(await client.request("account/read", {})) === undefined;
  } catch {
    return true; // cannot tell: let the backoff bound the attempts
  }
}

/** One watchdog pass. Never restarts the app-server; never throws for a server problem. */
export async function watchRemoteControlOnce(options: DaemonOptions = {}): Promise<WatchResult> {
  const ctx = createContext(options);
  await using lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) return { status: "busy" };
  const settings = await loadSettingsLenient(ctx.paths);
  if (!settings.remoteControlEnabled) return { status: "off" };
  const server = await readServerState(ctx.paths);
  if (server.kind !== "running") return { status: "notRunning" };
  let client: AppServerClient;
  try {
    client = await connectForTurns(ctx.paths.socketPath, ctx.options.probeTimeoutMs);
  } catch (error) {
    return { status: "notAnswering", reason: describeError(error) };
  }
  try {
    let view: RemoteControlView;
    try {
      view = await readRemoteControl(client);
    } catch (error) {
      return { status: "checked", remoteControl: null, reason: describeError(error) };
    }
    if (view.status === "connecting") {
      ({ view } = await settle(client, view, settleTimeoutOf(ctx)));
    }
    const now = new Date(ctx.clock.now());
    let watch = observe(await readWatchState(ctx.paths), view.status, now);
    const policy = settings.updater.remoteControlWatch;
    const decision = decideReconnect(watch, policy, now.getTime(), await loggedInOn(client, view));
    if (decision.kind !== "reconnect") {
      await writeWatchState(ctx.paths, watch);
      return { status: "checked", remoteControl: view, decision, watch };
    }
    const before = watch;
    let after: RemoteControlView = view;
    let failure: string | undefined;
    try {
      await switchRemoteControl(client, false, { settleTimeoutMs: settleTimeoutOf(ctx) });
      const on = await switchRemoteControl(client, true, { settleTimeoutMs: settleTimeoutOf(ctx) });
      if (on.kind === "switched") after = on.view;
      else failure = on.message;
    } catch (error) {
      failure = describeError(error);
    }
    const done = new Date(ctx.clock.now());
    watch = observe(
      {
        ...before,
        lastReconnect: done.toISOString(),
        reconnects: before.reconnects + 1,
        attempts: decision.attempt,
      },
      after.status,
      done,
    );
    await writeWatchState(ctx.paths, watch);
    const lasted = Math.round(
      (done.getTime() - Date.parse(before.since ?? done.toISOString())) / 1000,
    );
    await appendUpdaterLog(
      ctx.paths,
      `remote control was ${before.status} for ${lasted} s; switched it off and on again live ` +
        `(reconnect ${watch.reconnects}, app-server pid ${server.record.pid} kept): ` +
        (failure ? `failed: ${failure}` : `now ${after.status}`),
      done,
    );
    return { status: "reconnected", remoteControl: after, decision, watch };
  } finally {
    await client.close();
  }
}
