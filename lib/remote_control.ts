/**
 * `enable-remote-control` / `disable-remote-control`: persist
 * `remoteControlEnabled` in `settings.json` (every later launch carries it:
 * `--remote-control`, or the disabling environment variable), then switch the
 * running managed app-server live over its control socket and report the
 * server's own view. A restart happens only when the server lacks the
 * remote-control methods (older releases) or cannot be asked — through
 * {@linkcode restartToApply}, the one seam turn safety swaps. All under
 * `daemon.lock`. A server codexd did not start is refused before anything is
 * persisted.
 *
 * @module
 */
import { readServerState } from "./server/server_record.ts";
import { binaryFor, type DaemonContext, type DaemonOptions, probe } from "./server/context.ts";
import { withLockedHome } from "./server/locked_home.ts";
import { CodexdError } from "./errors.ts";
import { tryReadBinaryFacts } from "./server/managed_binary.ts";
import { unmanagedServer, unverifiable } from "./server/result.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { type DaemonSettings, updateSettings } from "./state/settings.ts";
import { CODEXD_VERSION } from "./version.ts";
import type { PendingRestart } from "./idle/policy.ts";
import { type AppliedBy, applyToRunning } from "./remote_control/apply.ts";
import type { RemoteControlView } from "./app_server/remote_control.ts";

export type { AppliedBy } from "./remote_control/apply.ts";
export type {
  RemoteControlConnectionStatus,
  RemoteControlView,
} from "./app_server/remote_control.ts";
export { REMOTE_CONTROL_SETTLE_TIMEOUT_MS } from "./remote_control/session.ts";

/**
 * What the remote-control commands print: the reference's fields plus the
 * server's own view. Every key is present (`null` where unknown).
 */
export interface RemoteControlResult {
  /** `enabled`, `disabled`, `alreadyEnabled` or `alreadyDisabled` (about the persisted setting). */
  status: "enabled" | "disabled" | "alreadyEnabled" | "alreadyDisabled";
  /** `"pid"` when a managed app-server runs, else `null`. */
  backend: "pid" | null;
  /** The pid of the running app-server, or `null`. */
  pid: number | null;
  /** Whether a pid record names the running server (the commands refuse any other). */
  managed: boolean;
  /** The persisted setting: every later launch carries it. */
  remoteControlEnabled: boolean;
  /** How the setting reached the running app-server. */
  applied: AppliedBy;
  /** Whether a running app-server was restarted to apply it. */
  restarted: boolean;
  /** The server's own remote-control view after the change, or `null` when it cannot be asked. */
  remoteControl: RemoteControlView | null;
  /** Why `remoteControl` is `null` (or not `connected`), when known, else `null`. */
  remoteControlReason: string | null;
  /** The control socket. */
  socketPath: string;
  /** The managed codex CLI's version, or `null`. */
  cliVersion: string | null;
  /** The binary codexd launches. */
  managedCodexPath: string;
  /** Its version (the same as `cliVersion`), `null` when it is missing or unreadable. */
  managedCodexVersion: string | null;
  /** What the running app-server reports, or `null`. */
  appServerVersion: string | null;
  /** This codexd's version. */
  codexdVersion: string;
  /** Whether this command changed anything (the setting, or the running server). */
  changed: boolean;
  /** Non-fatal problems. */
  warnings?: string[];
  /** With `applied: "pendingRestart"`: the restart turn safety holds back until running turns end. */
  pendingRestart?: PendingRestart;
}

/**
 * Persists the remote-control setting and applies it to a running managed
 * app-server, live when it can.
 *
 * @throws {CodexdError} `UNMANAGED_SERVER` / `PID_UNVERIFIABLE` when the
 * answering server is not one codexd started (nothing is persisted);
 * `REMOTE_CONTROL_UNAVAILABLE` when the server refuses or cannot enable it
 * (the setting stays persisted; `details` say so).
 * @example
 * ```ts ignore
 * import { setRemoteControl } from "./remote_control.ts";
 * const { status, remoteControl } = await setRemoteControl(true);
 * console.log(status, remoteControl?.status); // "enabled" "connected"
 * ```
 */
export async function setRemoteControl(
  enabled: boolean,
  options: DaemonOptions = {},
): Promise<RemoteControlResult> {
  return await withLockedHome(options, (ctx, settings) => setLocked(ctx, settings, enabled));
}

/** {@linkcode setRemoteControl} under the lock, `before` the settings as they were. */
async function setLocked(
  ctx: DaemonContext,
  before: DaemonSettings,
  enabled: boolean,
): Promise<RemoteControlResult> {
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running" && await probe(ctx)) {
    // It would not take effect on a server codexd cannot restart: persist nothing.
    if (state.kind === "unverifiable") throw unverifiable(ctx, state);
    const owner = findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath);
    throw unmanagedServer(ctx, owner, {
      adoptHint: `codexd adopt, then: codexd ${enabled ? "enable" : "disable"}-remote-control`,
      details: { remoteControlEnabled: before.remoteControlEnabled, persisted: false },
    });
  }
  const changed = before.remoteControlEnabled !== enabled;
  const settings = changed
    ? await updateSettings(ctx.paths, { remoteControlEnabled: enabled })
    : before;
  const live = state.kind === "running"
    ? await applyToRunning(ctx, settings, state.record)
    : undefined;
  const binary = binaryFor(ctx, settings);
  const facts = await tryReadBinaryFacts(ctx.paths, binary.path);
  const result: RemoteControlResult = {
    status: enabled
      ? (changed ? "enabled" : "alreadyEnabled")
      : (changed ? "disabled" : "alreadyDisabled"),
    backend: live ? "pid" : null,
    pid: live?.pid ?? null,
    managed: live !== undefined,
    remoteControlEnabled: enabled,
    applied: live?.applied ?? "nextStart",
    restarted: live?.applied === "restart",
    remoteControl: live?.remoteControl ?? null,
    remoteControlReason: live
      ? live.remoteControlReason ?? null
      : "no app-server is running; the setting applies at the next start",
    socketPath: ctx.paths.socketPath,
    cliVersion: facts?.version ?? null,
    managedCodexPath: binary.path,
    managedCodexVersion: facts?.version ?? null,
    appServerVersion: live?.appServerVersion ?? null,
    codexdVersion: CODEXD_VERSION,
    changed: changed || live?.applied === "live" || live?.applied === "restart",
    ...(live?.warnings.length ? { warnings: live.warnings } : {}),
    ...(live?.pendingRestart !== undefined ? { pendingRestart: live.pendingRestart } : {}),
  };
  if (live?.unavailable) {
    throw new CodexdError(
      "REMOTE_CONTROL_UNAVAILABLE",
      `The app-server on ${ctx.paths.socketPath} cannot enable remote control: ${live.unavailable.message}. The setting stays persisted and applies once that is fixed.`,
      live.unavailable.hint,
      {
        remoteControlEnabled: true,
        persisted: true,
        restarted: result.restarted,
        pid: live.pid,
        remoteControl: live.remoteControl,
      },
    );
  }
  return result;
}
