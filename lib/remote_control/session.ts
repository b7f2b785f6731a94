/**
 * Remote control over one JSON-RPC session with the running app-server:
 * read the status, switch it live (`ephemeral`, since codexd persists the
 * setting itself and passes `--remote-control` at every launch), and wait —
 * bounded, on `remoteControl/status/changed`, never by polling — while the
 * status is `connecting`. Touches no files.
 *
 * @module
 */
import { type AppServerClient, REQUEST_TIMEOUT_MS } from "../app_server/client.ts";
import type { DaemonContext } from "../server/context.ts";
import { describeError } from "../errors.ts";
import {
  classifyFailure,
  DISABLE_METHOD,
  ENABLE_METHOD,
  explainAccount,
  isPending,
  liveAction,
  parseRemoteControlView,
  type RemoteControlView,
  STATUS_CHANGED_NOTIFICATION,
  STATUS_READ_METHOD,
} from "../app_server/remote_control.ts";

/**
 * Bound on waiting for a `connecting` status to become `connected` or
 * `errored` (a few seconds: the server reaches chatgpt.com first).
 */
export const REMOTE_CONTROL_SETTLE_TIMEOUT_MS = 5_000;
/** Bound on one remote-control request (and `account/read`). */
export const REMOTE_CONTROL_REQUEST_TIMEOUT_MS = REQUEST_TIMEOUT_MS;

/** Bounds for one remote-control exchange. */
export interface RemoteControlTimeouts {
  /** Bound on waiting for a pending status change. @default {REMOTE_CONTROL_SETTLE_TIMEOUT_MS} */
  settleTimeoutMs?: number;
  /** Bound on each request. @default {REMOTE_CONTROL_REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number;
}

function malformed(method: string, value: unknown): Error {
  return new Error(`app-server answered ${method} with ${JSON.stringify(value)}`);
}

/** `remoteControl/status/read`. @throws {RpcError} or {@linkcode Error} as the client does. */
export async function readRemoteControl(
  client: AppServerClient,
  timeoutMs: number = REMOTE_CONTROL_REQUEST_TIMEOUT_MS,
): Promise<RemoteControlView> {
  const answer = await client.request(STATUS_READ_METHOD, {}, timeoutMs);
  const view = parseRemoteControlView(answer);
  if (view === undefined) throw malformed(STATUS_READ_METHOD, answer);
  return view;
}

/** Forgets queued status notifications: everything queued so far is older than what was just read. */
export async function dropQueued(client: AppServerClient): Promise<void> {
  while (await client.nextNotification(STATUS_CHANGED_NOTIFICATION, 0)) {
    // discard
  }
}

/** Applies queued notifications, then waits (bounded) while the status is `connecting`. */
export async function settle(
  client: AppServerClient,
  latest: RemoteControlView,
  settleMs: number,
): Promise<{ view: RemoteControlView; timedOut: boolean }> {
  // Transitions the server emitted before answering are already queued.
  let view = latest;
  for (
    let next = await client.nextNotification(STATUS_CHANGED_NOTIFICATION, 0);
    next;
    next = await client.nextNotification(STATUS_CHANGED_NOTIFICATION, 0)
  ) {
    view = parseRemoteControlView(next.params) ?? view;
  }
  const deadline = Date.now() + settleMs;
  while (isPending(view)) {
    const left = deadline - Date.now();
    if (left <= 0) return { view, timedOut: true };
    const next = await client.nextNotification(STATUS_CHANGED_NOTIFICATION, left);
    if (next === undefined) return { view, timedOut: true };
    view = parseRemoteControlView(next.params) ?? view;
  }
  return { view, timedOut: false };
}

/** What {@linkcode switchRemoteControl} found. */
export type SwitchOutcome =
  | {
    /** The server answered; `view` is its settled status. */
    kind: "switched";
    /** Whether a request was sent (false when it already had that state). */
    sent: boolean;
    view: RemoteControlView;
    /** The status was still `connecting` when the wait ran out. */
    timedOut: boolean;
    /** Why an `enable` ended `errored` or `disabled`, when the server lets us find out. */
    reason?: string;
  }
  | {
    /** The server does not know the remote-control methods (an older release). */
    kind: "unsupported";
    message: string;
  }
  | {
    /** The server refused (e.g. no ChatGPT login, or a managed policy). */
    kind: "refused";
    message: string;
    /** Its status, when it still answers `status/read`. */
    view: RemoteControlView | null;
  };

async function sendSwitch(
  client: AppServerClient,
  method: string,
  timeoutMs: number,
): Promise<unknown> {
  try {
    return await client.request(method, { ephemeral: true }, timeoutMs);
  } catch (error) {
    // Releases from before `ephemeral` take no params at all (as the reference retries).
    if (classifyFailure(error) !== "invalidParams") throw error;
    return await client.request(method, null, timeoutMs);
  }
}

/**
 * Brings the running server's remote control to `enabled`: reads its status,
 * sends enable/disable when needed, and waits for the status to settle.
 *
 * @throws {Error} when the server stops answering (time-out, closed socket).
 */
export async function switchRemoteControl(
  client: AppServerClient,
  enabled: boolean,
  timeouts: RemoteControlTimeouts = {},
): Promise<SwitchOutcome> {
  const requestMs = timeouts.requestTimeoutMs ?? REMOTE_CONTROL_REQUEST_TIMEOUT_MS;
  const settleMs = timeouts.settleTimeoutMs ?? REMOTE_CONTROL_SETTLE_TIMEOUT_MS;
  let current: RemoteControlView;
  try {
    current = await readRemoteControl(client, requestMs);
  } catch (error) {
    const kind = classifyFailure(error);
    if (kind === "unsupported") return { kind, message: describeError(error) };
    // A policy refuses every remoteControl/* method, status/read included.
    if (kind === "refused") return { kind, message: describeError(error), view: null };
    throw error;
  }
  await dropQueued(client);
  const action = liveAction(enabled, current);
  let answer: RemoteControlView = current;
  if (action === "send") {
    const method = enabled ? ENABLE_METHOD : DISABLE_METHOD;
    let raw: unknown;
    try {
      raw = await sendSwitch(client, method, requestMs);
    } catch (error) {
      const kind = classifyFailure(error);
      if (kind === "unsupported") return { kind, message: describeError(error) };
      if (kind === "refused" || kind === "invalidParams") {
        const view = await readRemoteControl(client, requestMs).catch(() => null);
        return { kind: "refused", message: describeError(error), view };
      }
      throw error;
    }
    answer = parseRemoteControlView(raw) ?? current;
  }
  const { view, timedOut } = action === "none"
    ? { view: current, timedOut: false }
    : await settle(client, answer, settleMs);
  const reason = enabled && (view.status === "errored" || view.status === "disabled")
    ? await explainErrored(client, requestMs)
    : undefined;
  return {
    kind: "switched",
    sent: action === "send",
    view,
    timedOut,
    ...(reason ? { reason } : {}),
  };
}

/** Asks `account/read` why remote control cannot connect; `undefined` when it cannot tell. */
export async function explainErrored(
  client: AppServerClient,
  timeoutMs: number = REMOTE_CONTROL_REQUEST_TIMEOUT_MS,
): Promise<string | undefined> {
  try {
    return explainAccount(await client.request("account/read", {}, timeoutMs));
  } catch {
    return undefined;
  }
}

/** The settle bound for `ctx` (option `remoteControlTimeoutMs`). */
export function settleTimeoutOf(ctx: DaemonContext): number {
  return ctx.options.remoteControlTimeoutMs ?? REMOTE_CONTROL_SETTLE_TIMEOUT_MS;
}
