/**
 * `codexd apply-pending`: what the updater loop runs at each check while
 * `pending-restart.json` exists. Under a try-lock (a busy lock means a user
 * command acts: try again next check), it drops a pending restart that no
 * longer applies (no app-server, or it already serves the target version),
 * and otherwise applies the idle rule of `deferred_restart.ts`.
 *
 * Also {@linkcode restartWhenIdle}: the same rule for restarts that are not
 * updates (e.g. a remote-control flag change), for callers holding the lock.
 *
 * Files: `pending-restart.json`, the updater log, and whatever a restart touches.
 *
 * @module
 */
import { tryAcquireDaemonLock } from "../daemon_lock.ts";
import { createContext, type DaemonContext, type DaemonOptions } from "../context.ts";
import { isAnswering } from "../control_socket.ts";
import { readServerState } from "../server_record.ts";
import type { LifecycleResult } from "../result.ts";
import { restartLocked } from "../restart.ts";
import { type DaemonSettings, loadSettings } from "../settings.ts";
import { ensureStateDir } from "../paths.ts";
import {
  restartOrDefer,
  type RestartOrDeferOptions,
  type RestartOrDeferOutcome,
  type StoredIntent,
} from "./deferred_restart.ts";
import { clearPendingRestart, logRestartEvent, readPendingRestart } from "./pending.ts";
import type { PendingRestart } from "./policy.ts";
import type { InterruptedTurn } from "./probe.ts";
import { sameVersion } from "../versions.ts";

/** What one `apply-pending` pass did. */
export interface ApplyPendingResult {
  /**
   * `none` (nothing pending), `busy` (lock held), `cleared` (no longer
   * applies), `waiting` (still deferred), `applied` (restarted).
   */
  status: "none" | "busy" | "cleared" | "waiting" | "applied";
  /** The pending restart, while it waits. */
  pendingRestart?: PendingRestart;
  /** Turns running when it decided to wait. */
  activeTurns?: number;
  /** After `applied`: the new app-server's pid. */
  pid?: number;
  /** After `applied`: what it reports. */
  appServerVersion?: string;
  /** Turns interrupted because the deadline passed. */
  interruptedTurns?: InterruptedTurn[];
}

/** Options for {@linkcode applyPendingRestart}. */
export interface ApplyPendingOptions extends DaemonOptions {
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/** One pass over the pending restart (the updater loop's `apply-pending`). */
export async function applyPendingRestart(
  options: ApplyPendingOptions = {},
): Promise<ApplyPendingResult> {
  const ctx = createContext(options);
  if (await readPendingRestart(ctx.paths) === undefined) return { status: "none" };
  await ensureStateDir(ctx.paths);
  const lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) return { status: "busy" };
  try {
    const pending = await readPendingRestart(ctx.paths) as StoredIntent | undefined;
    if (pending === undefined) return { status: "none" };
    const state = await readServerState(ctx.paths);
    const info = state.kind === "running" ? await isAnswering(ctx.paths.socketPath) : undefined;
    const moot = state.kind !== "running"
      ? "no app-server running"
      : pending.toVersion !== null && sameVersion(info?.appServerVersion, pending.toVersion)
      ? `already serving ${pending.toVersion}`
      : undefined;
    if (moot !== undefined) {
      await clearPendingRestart(ctx.paths);
      await logRestartEvent(ctx.paths, ctx.clock.now(), `pending restart dropped: ${moot}`);
      return { status: "cleared" };
    }
    const { settings } = await loadSettings(ctx.paths);
    const intent = {
      kind: pending.kind ?? "update",
      toVersion: pending.toVersion,
      reason: pending.reason,
      previousRelease: pending.previousRelease,
      previousVersion: pending.previousVersion,
    };
    const deferOptions = { idleGapMs: options.idleGapMs };
    if (intent.kind === "restart") {
      const done = await restartOrDefer(
        ctx,
        settings,
        intent,
        () => restartLocked(ctx, settings),
        deferOptions,
      );
      if (!done.restarted) return waiting(done);
      return applied(done.result.pid, done.result.appServerVersion, done.interrupted);
    }
    const { restartOntoNewRelease } = await import("../release_switch.ts");
    const done = await restartOrDefer(
      ctx,
      settings,
      intent,
      () =>
        restartOntoNewRelease(
          ctx,
          settings,
          intent.previousRelease,
          intent.previousVersion ?? null,
        ),
      deferOptions,
    );
    if (!done.restarted) return waiting(done);
    return applied(done.result.record.pid, done.result.info.appServerVersion, done.interrupted);
  } finally {
    await lock.release();
  }
}

function waiting(done: RestartOrDeferOutcome<unknown> & { restarted: false }): ApplyPendingResult {
  return {
    status: "waiting",
    pendingRestart: done.pendingRestart,
    ...(done.activeTurns !== undefined ? { activeTurns: done.activeTurns } : {}),
  };
}

function applied(
  pid: number | null | undefined,
  appServerVersion: string | null | undefined,
  interrupted: InterruptedTurn[],
): ApplyPendingResult {
  return {
    status: "applied",
    ...(typeof pid === "number" ? { pid } : {}),
    ...(appServerVersion ? { appServerVersion } : {}),
    ...(interrupted.length ? { interruptedTurns: interrupted } : {}),
  };
}

/** What {@linkcode restartWhenIdle} did. */
export type RestartWhenIdleOutcome =
  | { restarted: true; result: LifecycleResult; interruptedTurns: InterruptedTurn[] }
  | { restarted: false; pendingRestart: PendingRestart; activeTurns?: number };

/**
 * Restarts the running app-server onto the current settings when it is idle
 * (two probes a few seconds apart); when turns run, leaves a pending restart
 * that the updater applies once it is idle (bounded by
 * `updater.restartDeadlineMinutes`, gated by `updater.restartWindow`).
 * Call under `daemon.lock`, e.g. after persisting a flag change.
 *
 * @example
 * ```ts ignore
 * const done = await restartWhenIdle(ctx, settings, "remote control enabled");
 * if (!done.restarted) console.log("applies when idle", done.pendingRestart);
 * ```
 */
export async function restartWhenIdle(
  ctx: DaemonContext,
  settings: DaemonSettings,
  reason: string,
  options: RestartOrDeferOptions = {},
): Promise<RestartWhenIdleOutcome> {
  const done = await restartOrDefer(
    ctx,
    settings,
    { kind: "restart", toVersion: null, reason },
    () => restartLocked(ctx, settings),
    options,
  );
  return done.restarted
    ? { restarted: true, result: done.result, interruptedTurns: done.interrupted }
    : done;
}
