/**
 * The one cheap, bounded read of the server's remote-control view that
 * `status`, `start`, `restart` and `bootstrap` report: a single session that
 * initializes with the experimental API and asks `remoteControl/status/read`
 * (waiting on `remoteControl/status/changed` only when asked to). Never
 * throws. Touches no files.
 *
 * @module
 */
import {
  type AppServerClient,
  CONNECT_TIMEOUT_MS,
  connectAppServer,
} from "../app_server/client.ts";
import type { ServerInfo } from "../app_server/handshake.ts";
import { describeError } from "../errors.ts";
import {
  classifyFailure,
  isPending,
  type RemoteControlView,
  STATUS_READ_METHOD,
} from "../app_server/remote_control.ts";
import { countPairedClients } from "./paired_count.ts";
import {
  dropQueued,
  explainErrored,
  readRemoteControl,
  REMOTE_CONTROL_REQUEST_TIMEOUT_MS,
  REMOTE_CONTROL_SETTLE_TIMEOUT_MS,
  type RemoteControlTimeouts,
  settle,
} from "./session.ts";

/** The server's view that `status`, `start` and `bootstrap` report. */
export interface ServerView {
  /** What `initialize` told; absent when nothing answers. */
  info?: ServerInfo;
  /** The server's remote-control status, or `null` when it cannot be asked. */
  remoteControl: RemoteControlView | null;
  /** Why `remoteControl` is `null`, or why it is not `connected` when that is known. */
  remoteControlReason?: string;
  /** Whether a `connecting` status was still pending when the wait ran out. */
  timedOut?: boolean;
}

/** Options for {@linkcode readServerView}. */
export interface ServerViewOptions extends RemoteControlTimeouts {
  /** Bound on connect + `initialize`. @default {CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** Wait for a `connecting` status to settle (after a start). @default {false} */
  settle?: boolean;
  /** Add `pairedClients` to the view (one bounded `client/list`). @default {false} */
  countClients?: boolean;
  /** Ask `account/read` why the status is `errored`/`disabled` (when remote control is wanted). @default {false} */
  explain?: boolean;
}

/**
 * The remote-control part of {@linkcode readServerView} on an open session
 * (so `status` can share its one connection with the turn count). Never
 * throws.
 */
export async function readViewOn(
  client: AppServerClient,
  options: ServerViewOptions = {},
): Promise<ServerView> {
  const requestMs = options.requestTimeoutMs ?? REMOTE_CONTROL_REQUEST_TIMEOUT_MS;
  let view: RemoteControlView;
  try {
    view = await readRemoteControl(client, requestMs);
  } catch (error) {
    const kind = classifyFailure(error);
    const reason = kind === "unsupported"
      ? `app-server ${client.info.appServerVersion} has no ${STATUS_READ_METHOD}`
      : describeError(error);
    return { info: client.info, remoteControl: null, remoteControlReason: reason };
  }
  let timedOut = false;
  try {
    if (options.settle && isPending(view)) {
      await dropQueued(client);
      ({ view, timedOut } = await settle(
        client,
        view,
        options.settleTimeoutMs ?? REMOTE_CONTROL_SETTLE_TIMEOUT_MS,
      ));
    }
  } catch {
    // The session closed while waiting: report the last status seen.
  }
  const reason = options.explain && (view.status === "errored" || view.status === "disabled")
    ? await explainErrored(client, requestMs)
    : undefined;
  if (options.countClients) {
    view = { ...view, pairedClients: await countPairedClients(client, view) };
  }
  return {
    info: client.info,
    remoteControl: view,
    ...(reason ? { remoteControlReason: reason } : {}),
    ...(timedOut ? { timedOut } : {}),
  };
}

/** The reason given when nothing answers on the socket. */
export const NOT_ANSWERING = "the app-server is not answering";

/**
 * One bounded session: `initialize` (with the experimental API) and
 * `remoteControl/status/read`. Never throws: what cannot be learnt is `null`
 * with a reason.
 */
export async function readServerView(
  socketPath: string,
  options: ServerViewOptions = {},
): Promise<ServerView> {
  let client: AppServerClient;
  try {
    client = await connectAppServer(socketPath, {
      experimentalApi: true,
      timeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    });
  } catch {
    return { remoteControl: null, remoteControlReason: NOT_ANSWERING };
  }
  try {
    return await readViewOn(client, options);
  } finally {
    await client.close();
  }
}
