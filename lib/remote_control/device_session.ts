/**
 * The one way `pair`, `clients` and `revoke` reach the running app-server:
 * check that a managed server runs with remote control on, open a session
 * with the experimental API, and turn every refusal into a coded error whose
 * hint is the next command to run. Reads `settings.json` and the pid
 * records; takes no lock (these commands change nothing codexd owns).
 *
 * @module
 */
import { type AppServerClient, isMethodNotFound, RpcError } from "../app_server/client.ts";
import type { DaemonContext } from "../server/context.ts";
import { probe } from "../app_server/probe.ts";
import { CodexdError, describeError } from "../errors.ts";
import { connectForTurns } from "../idle/probe.ts";
import { resolveCodexHome } from "../state/paths.ts";
import { unmanagedServer, unverifiable } from "../server/result.ts";
import { readServerState } from "../server/server_record.ts";
import { loadSettings } from "../state/settings.ts";
import { findSocketOwner } from "../server/socket_owner.ts";
import {
  classifyFailure,
  explainAccount,
  isAuthProblem,
  isPolicyRefusal,
  refusalHint,
  type RemoteControlView,
} from "../app_server/remote_control.ts";
import { readRemoteControl, REMOTE_CONTROL_REQUEST_TIMEOUT_MS, settle } from "./session.ts";
import { settleTimeoutOf } from "./session.ts";

/** An open session with a managed server whose remote control is on. */
export interface DeviceSession extends AsyncDisposable {
  /** The initialized client (experimental API). */
  client: AppServerClient;
  /** The server's pid. */
  pid: number;
  /** The server's remote-control view when the session opened. */
  view: RemoteControlView;
  /** Closes the session. */
  close(): Promise<void>;
}

function homeFlag(ctx: DaemonContext): string {
  let fallback: string | undefined;
  try {
    fallback = resolveCodexHome();
  } catch {
    fallback = undefined;
  }
  return ctx.paths.codexHome === fallback ? "" : ` --codex-home ${ctx.paths.codexHome}`;
}

function defaultHome(): string | undefined {
  try {
    return resolveCodexHome();
  } catch {
    return undefined;
  }
}

/** The coded error for remote control that is off (in settings or in the server). */
export function remoteControlOff(ctx: DaemonContext, detail: string): CodexdError {
  return new CodexdError(
    "REMOTE_CONTROL_OFF",
    `Remote control is off for ${ctx.paths.codexHome}: ${detail}`,
    `codexd enable-remote-control${homeFlag(ctx)}`,
  );
}

/** The coded error for a refusal (no login, a policy) or a failed request. */
export function deviceRequestError(
  ctx: DaemonContext,
  method: string,
  error: unknown,
): CodexdError {
  if (error instanceof CodexdError) return error;
  const message = describeError(error);
  if (
    error instanceof RpcError &&
    (isMethodNotFound(error) || classifyFailure(error) === "unsupported")
  ) {
    return new CodexdError(
      "REMOTE_CONTROL_UNAVAILABLE",
      `The app-server on ${ctx.paths.socketPath} has no ${method}: ${message}`,
      `codexd update${homeFlag(ctx)}`,
    );
  }
  if (isAuthProblem(message) || isPolicyRefusal(message)) {
    return new CodexdError(
      "REMOTE_CONTROL_UNAVAILABLE",
      `The app-server on ${ctx.paths.socketPath} refused ${method}: ${message}`,
      refusalHint(message, ctx.paths.codexHome, defaultHome()).replace(
        /, then: codexd enable-remote-control.*$/,
        "",
      ),
    );
  }
  return new CodexdError(
    "REMOTE_CONTROL_REQUEST_FAILED",
    `The app-server on ${ctx.paths.socketPath} could not ${method}: ${message}`,
    `codexd status${homeFlag(ctx)}`,
  );
}

/**
 * Opens a session for a device command.
 *
 * @throws {CodexdError} `NOT_RUNNING` (hint `codexd start`), `UNMANAGED_SERVER`
 * (hint `codexd adopt`), `PID_UNVERIFIABLE`, `REMOTE_CONTROL_OFF` (hint
 * `codexd enable-remote-control`), `REMOTE_CONTROL_UNAVAILABLE` (no login:
 * hint `codex login`; a policy: the administrator).
 */
export async function openDeviceSession(ctx: DaemonContext): Promise<DeviceSession> {
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running") {
    if (await probe(ctx)) {
      if (state.kind === "unverifiable") throw unverifiable(ctx, state);
      const owner = findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath);
      throw unmanagedServer(ctx, owner, { adoptHint: `codexd adopt${homeFlag(ctx)}` });
    }
    throw new CodexdError(
      "NOT_RUNNING",
      `No app-server runs for ${ctx.paths.codexHome}`,
      `codexd start${homeFlag(ctx)}`,
    );
  }
  const { settings } = await loadSettings(ctx.paths);
  if (!settings.remoteControlEnabled) throw remoteControlOff(ctx, "it is not enabled");
  let client: AppServerClient;
  try {
    client = await connectForTurns(ctx.paths.socketPath, ctx.options.probeTimeoutMs);
  } catch (error) {
    throw new CodexdError(
      "NOT_RUNNING",
      `The app-server of ${ctx.paths.codexHome} (pid ${state.record.pid}) is not answering: ${
        describeError(error)
      }`,
      `codexd restart${homeFlag(ctx)}`,
    );
  }
  try {
    let view: RemoteControlView;
    try {
      view = await readRemoteControl(client);
    } catch (error) {
      throw deviceRequestError(ctx, "read the remote-control status", error);
    }
    if (view.status === "connecting") {
      ({ view } = await settle(client, view, settleTimeoutOf(ctx)));
    }
    if (view.status === "errored" || view.status === "disabled") {
      const reason = explainAccount(
        await client.request("account/read", {}, REMOTE_CONTROL_REQUEST_TIMEOUT_MS).catch(() =>
          undefined
        ),
      );
      if (reason) throw deviceRequestError(ctx, "use remote control", new Error(reason));
      if (view.status === "disabled") {
        throw remoteControlOff(ctx, "the running app-server reports it disabled");
      }
    }
    return {
      client,
      pid: state.record.pid,
      view,
      close: () => client.close(),
      [Symbol.asyncDispose]: () => client.close(),
    };
  } catch (error) {
    await client.close();
    throw error;
  }
}
