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
 * `autostart-stop` is `stop --all`, except after the supervisor was killed
 * by a signal: then it notes that (`autostart.abnormal`) and keeps the
 * user's `down` marker as it was, so the restart systemd makes next does not
 * undo a user's `codexd stop`.
 *
 * Files: `app-server-daemon/{autostart.pid, autostart.abnormal, down}` and
 * what `start`/`stop` touch.
 *
 * @module
 */
import { writeFileAtomic } from "../atomic_file.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  flagsMatch,
  type LifecycleResult,
  lockDaemon,
  restartLocked,
  startLocked,
  stop,
  type StopResult,
} from "../lifecycle.ts";
import { ensureStateDir, join } from "../paths.ts";
import { readPidState } from "../pid_record.ts";
import { loadSettings } from "../settings.ts";
import { resetSupervision } from "../supervise.ts";
import { CODEXD_VERSION } from "../version.ts";
import { DOWN_FILE, ensureUpdater, setDown, stopUpdater } from "../updater.ts";
import { ABNORMAL_MARKER, exitedAbnormally, keepsDownMarker, SERVICE_PID_FILE } from "./unit.ts";

/** What `autostart-start` prints (into the journal). */
export interface ServiceStartResult extends Omit<LifecycleResult, "status"> {
  /** `started` (or `alreadyRunning`/`restarted`), or `down` when a user's stop is kept. */
  status: LifecycleResult["status"] | "down";
  /** The supervisor's pid: the unit's main process. */
  updaterPid: number;
}

/** Seconds since the epoch when this machine booted (`/proc/stat` btime); 0 when unknown. */
export function bootTimeMs(): number {
  try {
    const match = /^btime\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/stat"));
    return match ? Number(match[1]) * 1000 : 0;
  } catch {
    return 0;
  }
}

function mtimeMs(path: string): number | undefined {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return undefined;
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
 * @throws {CodexdError} what `start` throws; systemd then shows the unit failed.
 */
export async function serviceStart(options: DaemonOptions = {}): Promise<ServiceStartResult> {
  const ctx = createContext(options);
  await ensureStateDir(ctx.paths);
  await using _lock = await lockDaemon(ctx);
  const { settings } = await loadSettings(ctx.paths);
  const note = join(ctx.paths.stateDir, ABNORMAL_MARKER);
  const keepDown = keepsDownMarker(mtimeMs(note), bootTimeMs());
  await Deno.remove(note).catch(() => {});
  if (!keepDown) {
    await setDown(ctx, false);
    await resetSupervision(ctx);
  }
  const down = mtimeMs(join(ctx.paths.stateDir, DOWN_FILE)) !== undefined;
  let outcome: LifecycleResult | undefined;
  if (!down) {
    const state = await readPidState(ctx.paths.pidFile);
    outcome = state.kind === "running" && !flagsMatch(state.record, settings)
      ? await restartLocked(ctx, settings)
      : await startLocked(ctx, settings);
  }
  if (await updaterOutsideService(ctx)) await stopUpdater(ctx);
  const updater = await ensureUpdater(ctx, settings);
  await writeFileAtomic(join(ctx.paths.stateDir, SERVICE_PID_FILE), `${updater.pid}\n`, {
    mode: 0o644,
  });
  const base: Omit<LifecycleResult, "status"> = outcome ?? {
    managedCodexPath: binaryFor(ctx, settings).path,
    managedCodexVersion: null,
    socketPath: ctx.paths.socketPath,
    codexdVersion: CODEXD_VERSION,
  };
  return { ...base, status: outcome?.status ?? "down", updaterPid: updater.pid };
}

/**
 * `codexd autostart-stop`: the unit's stop command. `$EXIT_CODE` and
 * `$EXIT_STATUS` (set by systemd when the main process already ended) tell
 * whether the supervisor died abnormally.
 */
export async function serviceStop(
  options: DaemonOptions & { exitCode?: string; exitStatus?: string } = {},
): Promise<StopResult> {
  const abnormal = exitedAbnormally(
    options.exitCode ?? Deno.env.get("EXIT_CODE"),
    options.exitStatus ?? Deno.env.get("EXIT_STATUS"),
  );
  const ctx = createContext(options);
  const downFile = join(ctx.paths.stateDir, DOWN_FILE);
  const wasDown = mtimeMs(downFile) !== undefined;
  if (abnormal) {
    await ensureStateDir(ctx.paths);
    await Deno.writeTextFile(join(ctx.paths.stateDir, ABNORMAL_MARKER), "supervisor killed\n");
  }
  const result = await stop({ ...options, all: true });
  // The user did not stop it: systemd is about to bring it back.
  if (abnormal && !wasDown) await Deno.remove(downFile).catch(() => {});
  return result;
}
