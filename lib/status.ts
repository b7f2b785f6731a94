/**
 * `status`: everything a person or a script wants to know about one
 * CODEX_HOME, read without taking the lock: the pid record and its verdict,
 * whether the socket answers, uptime, settings, the updater and supervision.
 *
 * @module
 */
import { PROBE_TIMEOUT_MS } from "./control_socket.ts";
import type { RemoteControlView } from "./remote_control/protocol.ts";
import { readServerView } from "./remote_control/session.ts";
import { binaryFor, createContext, type DaemonOptions } from "./context.ts";
import type { LifecycleResult } from "./result.ts";
import { tryReadBinaryFacts } from "./managed_binary.ts";
import { readPidState } from "./pid_record.ts";
import { loadSettingsLenient } from "./settings.ts";
import { readUpdaterState, type UpdaterState } from "./updater_state.ts";
import { CODEXD_VERSION } from "./version.ts";

/** The updater part of {@linkcode StatusResult}. */
export interface UpdaterStatus extends UpdaterState {
  /** Whether the updater process is alive. */
  running: boolean;
  /** Its pid, when running. */
  pid?: number;
  /** Whether settings ask for it (set by `bootstrap`). */
  enabled: boolean;
  /** Whether it installs updates (it supervises either way). */
  autoUpdateEnabled: boolean;
}

/** The object `status` prints. */
export interface StatusResult extends Omit<LifecycleResult, "status"> {
  /** `running` when the app-server answers, else `stopped`. */
  status: "running" | "stopped";
  /** Seconds since the recorded process started. */
  uptimeSeconds?: number;
  /** The pid record's verdict: `missing`, `stale`, `unverifiable`, `running`. */
  pidRecord: string;
  /** Why a record is stale or unverifiable. */
  pidRecordReason?: string;
  /** Whether remote control is enabled in settings (every launch carries it). */
  remoteControlEnabled: boolean;
  /** The running server's own remote-control view, or `null` (see `remoteControlReason`). */
  remoteControl: RemoteControlView | null;
  /** Why `remoteControl` is `null`, when it is. */
  remoteControlReason?: string;
  /** The updater and supervision state. */
  updater: UpdaterStatus;
  /** The app-server's stderr log. */
  logPath: string;
  /** The updater's log. */
  updaterLogPath: string;
}

/**
 * Reports the daemon's state. Never mutates anything.
 *
 * @example
 * ```ts ignore
 * import { status } from "./status.ts";
 * const s = await status();
 * if (s.status === "running") console.log(s.pid, s.uptimeSeconds);
 * ```
 */
export async function status(options: DaemonOptions = {}): Promise<StatusResult> {
  const ctx = createContext(options);
  const { paths } = ctx;
  const settings = await loadSettingsLenient(paths);
  const binary = binaryFor(ctx, settings);
  const [state, view, facts, updaterRecord, updaterState] = await Promise.all([
    readPidState(paths.pidFile),
    // One bounded session: initialize (the probe) and remoteControl/status/read.
    readServerView(paths.socketPath, {
      connectTimeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
      requestTimeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
    }),
    tryReadBinaryFacts(paths, binary.path),
    readPidState(paths.updaterPidFile),
    readUpdaterState(paths),
  ]);
  const running = state.kind === "running";
  const info = view.info;
  return {
    status: info ? "running" : "stopped",
    ...(running ? { backend: "pid" as const, pid: state.record.pid } : {}),
    ...(running
      ? {
        uptimeSeconds: Math.max(
          0,
          Math.round((ctx.clock.now() - state.startTime.getTime()) / 1000),
        ),
      }
      : {}),
    pidRecord: state.kind,
    ...(state.kind === "stale" || state.kind === "unverifiable"
      ? { pidRecordReason: state.reason }
      : {}),
    managedCodexPath: binary.path,
    managedCodexVersion: facts?.version ?? null,
    socketPath: paths.socketPath,
    ...(facts ? { cliVersion: facts.version } : {}),
    ...(info ? { appServerVersion: info.appServerVersion } : {}),
    codexdVersion: CODEXD_VERSION,
    remoteControlEnabled: settings.remoteControlEnabled,
    remoteControl: view.remoteControl,
    ...(view.remoteControlReason ? { remoteControlReason: view.remoteControlReason } : {}),
    updater: {
      running: updaterRecord.kind === "running",
      ...(updaterRecord.kind === "running" ? { pid: updaterRecord.record.pid } : {}),
      enabled: settings.updater.enabled,
      autoUpdateEnabled: settings.updater.autoUpdateEnabled,
      ...updaterState,
    },
    logPath: paths.logFile,
    updaterLogPath: paths.updaterLogFile,
  };
}
