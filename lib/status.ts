/**
 * `status`: everything a person or a script wants to know about one
 * CODEX_HOME, read without taking the lock (its one write: the first-seen
 * time of a new remote-control state in `remote-control-state.json`): the pid record and its verdict,
 * whether the socket answers, uptime, settings, the updater and supervision.
 *
 * @module
 */
import { pathExists } from "./state/atomic_file.ts";
import { readServerState } from "./server/server_record.ts";
import { PROBE_TIMEOUT_MS } from "./app_server/probe.ts";
import type { RemoteControlView } from "./app_server/remote_control.ts";
import { readServerStatus } from "./remote_control/status_probe.ts";
import { reportWatch, type WatchReport } from "./remote_control/watch_state.ts";
import { publicPending, readPendingRestart } from "./idle/pending.ts";
import type { PendingRestart } from "./idle/policy.ts";
import { binaryFor, createContext, type DaemonOptions } from "./server/context.ts";
import type { LifecycleResult } from "./server/result.ts";
import { reportedVersion } from "./server/managed_binary.ts";
import { type AutostartInfo, readAutostart } from "./autostart/read.ts";
import { readPidState } from "./process/pid_record.ts";
import { loadSettingsLenient } from "./state/settings.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { readUpdaterState, type UpdaterState } from "./updater/state.ts";
import { readSuperviseHealth } from "./state/updater_log.ts";
import { CODEXD_VERSION } from "./version.ts";
import { socketProblem } from "./app_server/socket_path.ts";
import { type PinView, pinView, readReferenceSelection } from "./state/pin.ts";
import { serverLog } from "./server/log.ts";

/** The updater part of {@linkcode StatusResult}. */
export interface UpdaterStatus extends UpdaterState {
  /**
   * Whether the updater works: its process is alive and, while the
   * app-server is down, its supervision checks do not all fail.
   */
  running: boolean;
  /** Its pid, when its process is alive (also while its checks fail). */
  pid?: number;
  /** Supervision checks that failed in a row (from its log), while the app-server is down. */
  superviseErrors?: number;
  /** The latest of them: `<time> <code>: <message>`. */
  lastSuperviseError?: string;
  /**
   * Whose updater runs: `codexd` (`app-server-updater.pid`) or `reference`
   * (`codex app-server daemon`'s `daemon-updater.pid`); `null` when none runs.
   */
  owner: "codexd" | "reference" | null;
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
  /**
   * The pin in force: codexd's (`update --version X --pin`), an external
   * binary (`codexBin`), or the reference's selection in its package; `null`
   * when the updater follows the latest.
   */
  pin: PinView | null;
  /** The app-server's stderr log: the log of the layout its record is in (`logs` reads it). */
  logPath: string;
  /**
   * Which tool started the recorded server: `reference` when its record
   * carries the reference's `executableIdentity`, else `codexd`; `null` without one.
   */
  startedBy: "codexd" | "reference" | null;
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
  const [state, turns, facts, ownUpdater, referenceUpdater, updaterState, pending, selection] =
    await Promise.all([
      readServerState(paths),
      // One connection: initialize (experimentalApi), the running-turn count and
      // remoteControl/status/read.
      readServerStatus(paths.socketPath, options.probeTimeoutMs ?? PROBE_TIMEOUT_MS),
      // The cache, else one bounded `--version` run (the binary may hang).
      reportedVersion(paths, binary.path),
      readPidState(paths.updaterPidFile),
      readPidState(paths.referenceUpdaterPidFile),
      readUpdaterState(paths),
      readPendingRestart(paths),
      readReferenceSelection(paths),
    ]);
  const info = turns.info;
  const running = state.kind === "running";
  const updaterRecord = ownUpdater.kind === "running" ? ownUpdater : referenceUpdater;
  const updaterOwner = ownUpdater.kind === "running"
    ? (isReferenceLoop(ownUpdater.record.pid) ? "reference" : "codexd")
    : referenceUpdater.kind === "running"
    ? "reference"
    : null;
  const server = serverLog(paths, state);
  // A live loop whose every check fails (HOME_UNSAFE, say) is not a working
  // updater: asked only while the server is down, when checks run.
  const health = ownUpdater.kind === "running" && !info
    ? await readSuperviseHealth(paths)
    : { superviseErrors: 0 };
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
    managedCodexVersion: facts ?? null,
    socketPath: paths.socketPath,
    cliVersion: facts ?? null,
    appServerVersion: info?.appServerVersion ?? null,
    codexdVersion: CODEXD_VERSION,
    remoteControlEnabled: settings.remoteControlEnabled,
    remoteControl,
    remoteControlReason: turns.remoteControlReason ?? null,
    updater: {
      running: updaterRecord.kind === "running" && health.superviseErrors === 0,
      ...(updaterRecord.kind === "running" ? { pid: updaterRecord.record.pid } : {}),
      ...(health.superviseErrors > 0 ? health : {}),
      owner: updaterOwner,
      enabled: settings.updater.enabled,
      autoUpdateEnabled: settings.updater.autoUpdateEnabled,
      ...updaterState,
    },
    activeTurns: turns.activeTurns,
    ...(turns.activeTurnsReason ? { activeTurnsReason: turns.activeTurnsReason } : {}),
    pendingRestart: pending ? publicPending(pending) : null,
    pin: pinView(
      settings,
      binary.managed || binary.referencePackage ? undefined : binary.path,
      selection,
    ),
    logPath: server.logPath,
    startedBy: server.startedBy,
    updaterLogPath: updaterOwner === "reference"
      ? paths.referenceUpdaterLogFile
      : paths.updaterLogFile,
    ...(info ? {} : unsafeSocket(paths.socketPath)),
    autostart: readAutostart(paths.codexHome),
  };
}

/**
 * Whether a live updater recorded in `app-server-updater.pid` is the
 * reference's (`codex app-server daemon pid-update-loop`, as its legacy layout
 * records it) rather than codexd's loop.
 */
function isReferenceLoop(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes("pid-update-loop");
  } catch {
    return false;
  }
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
