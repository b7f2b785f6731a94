/**
 * `status`: everything a person or a script wants to know about one
 * CODEX_HOME, read without taking the lock (its one write: the first-seen
 * time of a new remote-control state in `remote-control-state.json`): the pid record and its verdict,
 * whether the socket answers, uptime, settings, the updater and supervision.
 *
 * @module
 */
import { pathExists } from "./atomic_file.ts";
import { readServerState } from "./server_record.ts";
import { PROBE_TIMEOUT_MS } from "./control_socket.ts";
import type { RemoteControlView } from "./remote_control/protocol.ts";
import { readServerStatus } from "./remote_control/status_probe.ts";
import { reportWatch, type WatchReport } from "./remote_control/watch_state.ts";
import { publicPending, readPendingRestart } from "./idle/pending.ts";
import type { PendingRestart } from "./idle/policy.ts";
import { binaryFor, createContext, type DaemonOptions } from "./context.ts";
import type { LifecycleResult } from "./result.ts";
import { cachedBinaryFacts } from "./managed_binary.ts";
import { type AutostartInfo, readAutostart } from "./autostart/read.ts";
import { readPidState } from "./pid_record.ts";
import { loadSettingsLenient } from "./settings.ts";
import { findSocketOwner } from "./socket_owner.ts";
import { readUpdaterState, type UpdaterState } from "./updater_state.ts";
import { CODEXD_VERSION } from "./version.ts";
import { socketProblem } from "./app_server/socket_path.ts";

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
  /** The record file the verdict comes from (`app-server.pid` or the reference's `daemon.pid`). */
  pidRecordFile: string | null;
  /** Why a record is stale or unverifiable. */
  pidRecordReason?: string;
  /** Whether remote control is enabled in settings (every launch carries it). */
  remoteControlEnabled: boolean;
  /**
   * The running server's own remote-control view, or `null` (see
   * `remoteControlReason`), with how long its status has lasted and the
   * watchdog's reconnects.
   */
  remoteControl: (RemoteControlView & WatchReport) | null;
  /** Why `remoteControl` is `null`, when it is; else `null`. */
  remoteControlReason: string | null;
  /** The updater and supervision state. */
  updater: UpdaterStatus;
  /** Turns running now; `null` when the app-server cannot be asked (see `activeTurnsReason`). */
  activeTurns: number | null;
  /** Why `activeTurns` is `null`. */
  activeTurnsReason?: string;
  /** A restart waiting for idle (or the window), or `null`. */
  pendingRestart: PendingRestart | null;
  /** The app-server's stderr log. */
  logPath: string;
  /** The updater's log. */
  updaterLogPath: string;
  /** Why the control socket was not trusted (an impostor's), when it was not. */
  socketUnsafe?: string;
  /** Boot-time start (`enable-autostart`), read from its files; `null` when none. */
  autostart: AutostartInfo | null;
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
  const [state, turns, facts, updaterRecord, updaterState, pending] = await Promise.all([
    readServerState(paths),
    // One connection: initialize (experimentalApi), the running-turn count and
    // remoteControl/status/read.
    readServerStatus(paths.socketPath, options.probeTimeoutMs ?? PROBE_TIMEOUT_MS),
    // The cache only: `status` never runs the binary (it may hang).
    cachedBinaryFacts(paths, binary.path),
    readPidState(paths.updaterPidFile),
    readUpdaterState(paths),
    readPendingRestart(paths),
  ]);
  const info = turns.info;
  const running = state.kind === "running";
  // The one write `status` may make: when it first sees a new remote-control state.
  const remoteControl = turns.remoteControl && running
    ? {
      ...turns.remoteControl,
      ...await reportWatch(paths, turns.remoteControl.status, new Date(ctx.clock.now())),
    }
    : turns.remoteControl
    ? { ...turns.remoteControl, ...NO_WATCH }
    : null;
  // A server no record names: say whose it is (never on the common path).
  const owner = info && !running ? findSocketOwner(paths.codexHome, paths.socketPath) : undefined;
  return {
    status: info ? "running" : "stopped",
    backend: running ? "pid" : null,
    pid: running ? state.record.pid : owner?.pid ?? null,
    managed: running,
    ...(running
      ? {
        uptimeSeconds: Math.max(
          0,
          Math.round((ctx.clock.now() - state.startTime.getTime()) / 1000),
        ),
      }
      : {}),
    pidRecord: state.kind,
    pidRecordFile: state.kind === "missing" ? null : state.file,
    ...(state.kind === "stale" || state.kind === "unverifiable"
      ? { pidRecordReason: state.reason }
      : {}),
    managedCodexPath: binary.path,
    managedCodexExists: facts !== undefined || pathExists(binary.path),
    managedCodexVersion: facts?.version ?? null,
    socketPath: paths.socketPath,
    cliVersion: facts?.version ?? null,
    appServerVersion: info?.appServerVersion ?? null,
    codexdVersion: CODEXD_VERSION,
    remoteControlEnabled: settings.remoteControlEnabled,
    remoteControl,
    remoteControlReason: turns.remoteControlReason ?? null,
    updater: {
      running: updaterRecord.kind === "running",
      ...(updaterRecord.kind === "running" ? { pid: updaterRecord.record.pid } : {}),
      enabled: settings.updater.enabled,
      autoUpdateEnabled: settings.updater.autoUpdateEnabled,
      ...updaterState,
    },
    activeTurns: turns.activeTurns,
    ...(turns.activeTurnsReason ? { activeTurnsReason: turns.activeTurnsReason } : {}),
    pendingRestart: pending ? publicPending(pending) : null,
    logPath: paths.logFile,
    updaterLogPath: paths.updaterLogFile,
    ...(info ? {} : unsafeSocket(paths.socketPath)),
    autostart: readAutostart(paths.codexHome),
  };
}

const NO_WATCH: WatchReport = {
  since: null,
  sinceSeconds: null,
  lastReconnect: null,
  reconnects: 0,
};

function unsafeSocket(socketPath: string): { socketUnsafe?: string } {
  const problem = socketProblem(socketPath);
  return problem ? { socketUnsafe: problem } : {};
}
