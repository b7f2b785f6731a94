/**
 * The app-server's remote-control API as codexd sees it, and the pure
 * decisions made on it: what a status answer looks like, whether a running
 * server already has the state a user asked for, what to do next, and how to
 * explain a refusal. No I/O here; `remote_control/session.ts` talks to the server.
 *
 * Methods (experimental, need `capabilities.experimentalApi` at `initialize`):
 * `remoteControl/status/read`, `remoteControl/enable {ephemeral}`,
 * `remoteControl/disable {ephemeral}`, and the `remoteControl/status/changed`
 * notification; each answers `{status, serverName, installationId,
 * environmentId}` with `status` one of `disabled`, `connecting`, `connected`,
 * `errored`.
 *
 * @module
 */
import { isMethodNotFound, RpcError } from "./client.ts";

/** Read the current remote-control status. */
export const STATUS_READ_METHOD = "remoteControl/status/read";
/** Switch remote control on in the running server. */
export const ENABLE_METHOD = "remoteControl/enable";
/** Switch remote control off in the running server. */
export const DISABLE_METHOD = "remoteControl/disable";
/** Sent to every initialized connection when the status changes. */
export const STATUS_CHANGED_NOTIFICATION = "remoteControl/status/changed";
/** JSON-RPC "invalid params": an older server that takes no params for enable/disable. */
export const INVALID_PARAMS = -32602;

/** The connection states the app-server reports. */
export type RemoteControlConnectionStatus = "disabled" | "connecting" | "connected" | "errored";

/** The server's own view of remote control, as it returns it. */
export interface RemoteControlView {
  /** `disabled`, `connecting`, `connected` or `errored` (other strings passed through as-is). */
  status: RemoteControlConnectionStatus | string;
  /** The name the host shows under on the user's phone. */
  serverName: string | null;
  /** The app-server installation's id. */
  installationId: string | null;
  /** The enrolled environment, once connected. */
  environmentId: string | null;
  /**
   * Devices paired with this host, reported by `start`, `restart` and
   * `bootstrap` only (`null` when the server cannot be asked).
   */
  pairedClients?: number | null;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** Parses a status answer or notification; `undefined` when it is not one. */
export function parseRemoteControlView(value: unknown): RemoteControlView | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.status !== "string") return undefined;
  return {
    status: record.status,
    serverName: optionalString(record.serverName),
    installationId: optionalString(record.installationId),
    environmentId: optionalString(record.environmentId),
  };
}

/** What to do with a running server, given the wanted setting and its current view. */
export type LiveAction =
  /** It already is where the setting says. */
  | "none"
  /** It is on its way there (`connecting`): wait for the change. */
  | "wait"
  /** Send `remoteControl/enable` or `remoteControl/disable`. */
  | "send";

/** Decides the live action: enabling is done at `connected`, disabling at `disabled`. */
export function liveAction(enabled: boolean, view: RemoteControlView): LiveAction {
  if (enabled) {
    if (view.status === "connected") return "none";
    if (view.status === "connecting") return "wait";
    return "send";
  }
  return view.status === "disabled" ? "none" : "send";
}

/** Whether a status is still changing (so a `status/changed` notification is due). */
export function isPending(view: RemoteControlView): boolean {
  return view.status === "connecting";
}

/** How a remote-control request failed. */
export type FailureKind =
  /** The server does not know the method (an older release): only a restart applies the setting. */
  | "unsupported"
  /** The server rejected the params (a release from before `ephemeral`): retry without. */
  | "invalidParams"
  /** The server refused (no ChatGPT login, a managed policy, …). */
  | "refused"
  /** No answer: a time-out or a closed socket. */
  | "unreachable";

/** Classifies a thrown request failure. */
export function classifyFailure(error: unknown): FailureKind {
  if (!(error instanceof RpcError)) return "unreachable";
  // Older releases, and a session without the experimental API, cannot switch live.
  if (isMethodNotFound(error) || /experimentalApi/i.test(error.message)) return "unsupported";
  if (error.code === INVALID_PARAMS) return "invalidParams";
  return "refused";
}

/** Whether a refusal or an `errored` status is about the missing ChatGPT login. */
export function isAuthProblem(message: string): boolean {
  return /chatgpt auth|authenticat|not logged in|log ?in/i.test(message);
}

/** Whether a refusal comes from an administrator's policy (`allow_remote_control = false`). */
export function isPolicyRefusal(message: string): boolean {
  return /managed requirements|policy|not allowed|forbidden/i.test(message);
}

/** The message the app-server gives for a missing login (its refusal and its log say this). */
export const AUTH_REQUIRED_MESSAGE = "remote control requires ChatGPT authentication";

/**
 * Explains an `errored` status from what `account/read` answered: the
 * server's status carries no reason, and the usual one is a missing ChatGPT
 * login (the server then waits for one and connects after `codex login`).
 */
export function explainAccount(account: unknown): string | undefined {
  if (typeof account !== "object" || account === null) return undefined;
  const record = account as Record<string, unknown>;
  if (!("account" in record)) return undefined;
  const current = record.account as Record<string, unknown> | null;
  if (current === null) return `${AUTH_REQUIRED_MESSAGE} (no account is logged in)`;
  const type = typeof current === "object" ? String(current.type ?? "") : "";
  if (type !== "" && !/chatgpt/i.test(type)) {
    return `${AUTH_REQUIRED_MESSAGE} (logged in with ${type}, not ChatGPT)`;
  }
  return undefined;
}

/** The login command for `codexHome` (naming the home unless it is the default). */
export function loginCommand(codexHome: string, defaultHome: string | undefined): string {
  return codexHome === defaultHome ? "codex login" : `CODEX_HOME=${codexHome} codex login`;
}

/** The hint for a refusal: log in for the auth case, nothing a command can fix for a policy. */
export function refusalHint(
  message: string,
  codexHome: string,
  defaultHome: string | undefined,
): string {
  if (isAuthProblem(message)) {
    const home = codexHome === defaultHome ? "" : ` --codex-home ${codexHome}`;
    return `${loginCommand(codexHome, defaultHome)}, then: codexd enable-remote-control${home}`;
  }
  if (isPolicyRefusal(message)) {
    return "ask your administrator: a managed policy forbids remote control on this host";
  }
  return "codexd logs";
}

/** A warning for a result whose server is not connected although remote control is on. */
export function notConnectedWarning(
  view: RemoteControlView | null,
  reason: string | undefined,
  timedOut: boolean,
  settleMs: number,
): string | undefined {
  if (view?.status === "connected") return undefined;
  if (view === null) {
    return `remote control is enabled but its live status is unknown${reason ? `: ${reason}` : ""}`;
  }
  if (view.status === "connecting") {
    return `remote control is still connecting${
      timedOut ? ` after ${settleMs} ms` : ""
    }; check later with: codexd status`;
  }
  return `remote control is enabled but the app-server reports "${view.status}"${
    reason ? `: ${reason}` : ""
  }`;
}
