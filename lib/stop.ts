/**
 * `stop`: SIGTERM to the recorded app-server's process group, the grace
 * window, then SIGKILL; the record is removed. Works even when settings are
 * malformed. A server codexd has no record of is never signalled.
 *
 * @module
 */
import { binaryFor, createContext, type DaemonContext, lockDaemon, probe } from "./context.ts";
import type { DaemonOptions } from "./context.ts";
import { setDown } from "./down_marker.ts";
import { type PidState, readPidState, removePidRecord } from "./pid_record.ts";
import { buildResult, type LifecycleResult, unmanagedServer, unverifiable } from "./result.ts";
import { type DaemonSettings, loadSettingsLenient } from "./settings.ts";
import { terminateRecorded } from "./terminate.ts";
import { checkTurnsBeforeStop, type TurnReport, type WhenIdleOptions } from "./idle/when_idle.ts";

/** Stops the recorded app-server (if any) under the lock; returns whether one was stopped. */
export async function stopRecorded(
  ctx: DaemonContext,
  state: PidState,
  settings: DaemonSettings,
): Promise<boolean> {
  switch (state.kind) {
    case "missing":
      return false;
    case "stale":
      await removePidRecord(ctx.paths.pidFile);
      return false;
    case "unverifiable":
      throw unverifiable(ctx, state);
    case "running": {
      const graceSeconds = ctx.options.graceSeconds ?? settings.shutdownGraceSeconds;
      // A negative grace (NO_GRACE_LIMIT) waits for the drain however long the turns take.
      const graceMs = graceSeconds < 0 ? Infinity : graceSeconds * 1000;
      await terminateRecorded(state.record, { graceMs, clock: ctx.clock });
      await removePidRecord(ctx.paths.pidFile);
      return true;
    }
  }
}

/**
 * Stops the managed app-server (SIGTERM, grace, SIGKILL) and removes its
 * record. Works even when settings are malformed.
 *
 * @example
 * ```ts ignore
 * import { stop } from "./stop.ts";
 * const { status } = await stop({ graceSeconds: 5 }); // "stopped" or "notRunning"
 * ```
 */
export async function stop(options: StopOptions = {}): Promise<StopResult> {
  const ctx = createContext(options);
  // Before the lock: waiting for turns must not block other commands.
  const turns = await checkTurnsBeforeStop(ctx, "stop", options);
  await using _lock = await lockDaemon(ctx);
  const settings = await loadSettingsLenient(ctx.paths);
  const binary = binaryFor(ctx, settings);
  let updaterStopped: boolean | undefined;
  if (options.all) {
    const { stopUpdater } = await import("./updater.ts");
    updaterStopped = await stopUpdater(ctx);
  }
  if (settings.updater.enabled) {
    // Deliberately stopped: supervision must not bring it back.
    await setDown(ctx.paths, true);
  }
  const extra = {
    ...(updaterStopped === undefined ? {} : { updaterStopped }),
    ...turnFields(turns),
  };
  const state = await readPidState(ctx.paths.pidFile);
  if (await stopRecorded(ctx, state, settings)) {
    return {
      ...await buildResult(ctx, binary, "stopped", { backend: "pid", warnings: turns.warnings }),
      ...extra,
    };
  }
  if (await probe(ctx)) throw unmanagedServer(ctx);
  return { ...await buildResult(ctx, binary, "notRunning"), ...extra };
}

/** The result fields a {@linkcode TurnReport} adds (its warnings go into `warnings`). */
export function turnFields(turns: TurnReport): Omit<TurnReport, "warnings"> {
  return {
    ...(turns.activeTurns !== undefined ? { activeTurns: turns.activeTurns } : {}),
    ...(turns.waitedForIdle ? { waitedForIdle: turns.waitedForIdle } : {}),
  };
}

/** Options for {@linkcode stop}. */
export interface StopOptions extends DaemonOptions, WhenIdleOptions {
  /** Also stop the updater's whole process group. @default {false} */
  all?: boolean;
}

/** What {@linkcode stop} returns. */
export interface StopResult extends LifecycleResult, Omit<TurnReport, "warnings"> {
  /** With `all`: whether an updater was running and was stopped. */
  updaterStopped?: boolean;
}
