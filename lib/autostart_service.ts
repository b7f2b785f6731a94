/**
 * What the generated unit runs: `codexd autostart-start` (`ExecStart=`, also
 * the LaunchAgent's program) and `codexd autostart-stop` (`ExecStop=`).
 *
 * `autostart-start` starts the app-server with its persisted flags and
 * codexd's supervisor (the updater loop) as children of the unit, and writes
 * the loop's pid as a plain number for systemd's `PIDFile=`: the loop is the
 * unit's main process. An updater started earlier outside the unit (from an
 * SSH `bootstrap`) is replaced, so systemd can follow the one that runs.
 *
 * `ExecStop=` is plain `stop --all`. `autostart-stopped` (`ExecStopPost=`)
 * notes a supervisor killed by a signal (`autostart.abnormal`), so the
 * restart systemd makes next keeps a user's `codexd stop` (the `down`
 * marker); at boot or on an explicit `systemctl start` it is cleared.
 *
 * Files: `app-server-daemon/{autostart.pid, autostart.abnormal, down}` and
 * what `start`/`stop` touch.
 *
 * @module
 */
import { pathExists, readTextIfPresent, writeFileAtomic } from "./state/atomic_file.ts";
import { CodexdError } from "./errors.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  requireHome,
} from "./server/context.ts";
import { underLock } from "./server/locked_home.ts";
import type { LifecycleResult } from "./server/result.ts";
import { startLocked } from "./server/lifecycle.ts";
import { ensureStateDir, join } from "./state/paths.ts";
import { readPidState } from "./process/pid_record.ts";
import { readBootId } from "./process/process_identity.ts";
import type { DaemonSettings } from "./state/settings.ts";
import { resetSupervision } from "./updater/state.ts";
import { CODEXD_VERSION } from "./version.ts";
import { DOWN_FILE, setDown } from "./state/down_marker.ts";
import { ensureUpdater, stopUpdater } from "./updater/loop.ts";
import {
  ABNORMAL_MARKER,
  exitedAbnormally,
  keepsDownMarker,
  SERVICE_PID_FILE,
} from "./autostart/unit.ts";

/** What `autostart-start` prints (into the journal). */
export interface ServiceStartResult extends Omit<LifecycleResult, "status"> {
  /**
   * `started` (or `alreadyRunning`/`restarted`); `down` when a user's stop is
   * kept; `retrying` when the app-server failed to start and supervision retries.
   */
  status: LifecycleResult["status"] | "down" | "retrying";
  /** The supervisor's pid: the unit's main process. */
  updaterPid: number;
}

/** This boot's id (Linux `boot_id`, virtualized per container boot by nspawn); "" when unknown. */
function currentBootId(): string {
  try {
    return readBootId();
  } catch {
    return "";
  }
}

/** The cgroup of `pid` (`/proc/PID/cgroup`), or `undefined` off Linux. */
function cgroupOf(pid: number | "self"): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return undefined;
  }
}

/** Keeps a running updater only when it runs in this service's cgroup. */
async function updaterOutsideService(ctx: DaemonContext): Promise<boolean> {
  const state = await readPidState(ctx.paths.updaterPidFile);
  if (state.kind !== "running") return false;
  const ours = cgroupOf("self");
  return ours !== undefined && cgroupOf(state.record.pid) !== ours;
}

/**
 * `codexd autostart-start`: the unit's start command.
 *
 * A failed app-server start is a warning, not a failure: the supervisor
 * still starts and retries with backoff.
 *
 * @throws {CodexdError} `SETTINGS_INVALID`, `LOCK_TIMEOUT`, `SPAWN_FAILED` of
 * the supervisor: systemd then shows the unit failed.
 */
export async function serviceStart(options: DaemonOptions = {}): Promise<ServiceStartResult> {
  const ctx = createContext(options);
  // A home that is gone is not recreated at boot (HOME_NOT_FOUND).
  requireHome(ctx);
  await ensureStateDir(ctx.paths);
  return await underLock(ctx, startService);
}

/** `autostart-start` under the lock. */
async function startService(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<ServiceStartResult> {
  const note = join(ctx.paths.stateDir, ABNORMAL_MARKER);
  const keepDown = keepsDownMarker(await readTextIfPresent(note), currentBootId());
  await Deno.remove(note).catch(() => {});
  if (!keepDown) {
    await setDown(ctx.paths, false);
    await resetSupervision(ctx.paths);
  }
  const down = pathExists(join(ctx.paths.stateDir, DOWN_FILE));
  let outcome: LifecycleResult | undefined;
  let failure: string | undefined;
  if (!down) {
    try {
      // A running server is kept as it is: remote control is switched live by
      // its commands (its argv may differ from settings on purpose), and a
      // restart here would interrupt running turns.
      outcome = await startLocked(ctx, settings);
    } catch (error) {
      if (!(error instanceof CodexdError)) throw error;
      // A slow or flaky boot must not leave the unit failed for good: the
      // supervisor starts below and retries with backoff (and gives up visibly).
      failure = `${error.code}: ${error.message.split("\n")[0]}; supervision retries`;
    }
  }
  if (await updaterOutsideService(ctx)) await stopUpdater(ctx);
  const updater = await ensureUpdater(ctx, settings);
  await writeFileAtomic(join(ctx.paths.stateDir, SERVICE_PID_FILE), `${updater.pid}\n`, {
    mode: 0o644,
  });
  const base: Omit<LifecycleResult, "status"> = outcome ?? {
    backend: null,
    pid: null,
    managed: false,
    managedCodexPath: binaryFor(ctx, settings).path,
    managedCodexExists: false,
    managedCodexVersion: null,
    socketPath: ctx.paths.socketPath,
    cliVersion: null,
    appServerVersion: null,
    codexdVersion: CODEXD_VERSION,
  };
  const { status: _status, ...fields } = { status: "down" as const, ...base };
  return {
    status: outcome?.status ?? (failure ? "retrying" : "down"),
    ...fields,
    ...(failure ? { warnings: [failure] } : {}),
    updaterPid: updater.pid,
  };
}

/** What `autostart-stopped` prints (into the journal). */
export interface ServiceStoppedResult {
  /** `noted`: the supervisor died abnormally and systemd will restart it; else `clean`. */
  status: "noted" | "clean";
}

/**
 * `codexd autostart-stopped`: the unit's `ExecStopPost=`. `$EXIT_CODE` and
 * `$EXIT_STATUS` say how the supervisor ended; after an abnormal end it
 * leaves the note that makes the coming restart keep the user's `down`.
 */
export async function serviceStopped(
  options: DaemonOptions & { exitCode?: string; exitStatus?: string } = {},
): Promise<ServiceStoppedResult> {
  const abnormal = exitedAbnormally(
    options.exitCode ?? Deno.env.get("EXIT_CODE"),
    options.exitStatus ?? Deno.env.get("EXIT_STATUS"),
  );
  if (!abnormal) return { status: "clean" };
  const ctx = createContext(options);
  requireHome(ctx);
  await ensureStateDir(ctx.paths);
  await writeFileAtomic(join(ctx.paths.stateDir, ABNORMAL_MARKER), `${currentBootId()}\n`);
  return { status: "noted" };
}
