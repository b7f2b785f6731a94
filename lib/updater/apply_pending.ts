/**
 * `codexd apply-pending`: what the updater loop runs at each check while
 * `pending-restart.json` exists (and the pending-restart applier, on homes
 * without an updater). Under a try-lock (a busy lock means a user command
 * acts: try again next check), it revalidates the pending restart against
 * what runs now and drops it when moot (no app-server; it already runs what
 * a restart would launch; it was relaunched with the wanted flags), and
 * otherwise applies the rule of `deferred_restart.ts` through the gate.
 *
 * Also {@linkcode restartWhenIdle}: the same rule for restarts that are not
 * updates (e.g. a remote-control flag change), for callers holding the lock.
 *
 * Files: `pending-restart.json`, the updater log, and whatever a restart touches.
 *
 * @module
 */
import { tryAcquireDaemonLock } from "../state/daemon_lock.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  requireHome,
} from "../server/context.ts";
import { flagsMatch } from "../server/spawn.ts";
import { tryReadBinaryFacts } from "../server/managed_binary.ts";
import { mootReason } from "../idle/gate.ts";
import { probe } from "../app_server/probe.ts";
import { readServerState } from "../server/server_record.ts";
import type { LifecycleResult } from "../server/result.ts";
import { restartLocked } from "../server/lifecycle.ts";
import { type DaemonSettings, loadSettings } from "../state/settings.ts";
import { ensureStateDir } from "../state/paths.ts";
import {
  restartOrDefer,
  type RestartOrDeferOptions,
  type RestartOrDeferOutcome,
  type StoredIntent,
} from "./deferred_restart.ts";
import { clearPendingRestart, logRestartEvent, readPendingRestart } from "../idle/pending.ts";
import type { PendingRestart } from "../idle/policy.ts";
import type { InterruptedTurn } from "../idle/probe.ts";

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
  /** Non-fatal problems. */
  warnings?: string[];
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
  requireHome(ctx);
  if (await readPendingRestart(ctx.paths) === undefined) return { status: "none" };
  await ensureStateDir(ctx.paths);
  const lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) return { status: "busy" };
  try {
    const pending = await readPendingRestart(ctx.paths) as StoredIntent | undefined;
    if (pending === undefined) return { status: "none" };
    const { settings } = await loadSettings(ctx.paths);
    const moot = await pendingMoot(ctx, settings, pending);
    if (moot !== undefined) {
      await clearPendingRestart(ctx.paths);
      await logRestartEvent(ctx.paths, ctx.clock.now(), `pending restart dropped: ${moot}`);
      return { status: "cleared" };
    }
    const intent = {
      kind: pending.kind ?? "update",
      toVersion: pending.toVersion,
      reason: pending.reason,
      previousRelease: pending.previousRelease,
      previousVersion: pending.previousVersion,
    };
    const deferOptions = { idleGapMs: options.idleGapMs };
    if (intent.kind === "restart") {
      // A followed out-of-band upgrade of a binary settings do not name runs that binary.
      const on = pending.binaryPath === undefined
        ? ctx
        : { ...ctx, options: { ...ctx.options, codexBin: pending.binaryPath } };
      const done = await restartOrDefer(
        ctx,
        settings,
        { ...intent, ...(pending.binaryPath ? { binaryPath: pending.binaryPath } : {}) },
        (open) => restartLocked(on, settings, open),
        deferOptions,
      );
      if (!done.restarted) return waiting(done);
      return applied(done.result.pid, done.result.appServerVersion, done.interrupted);
    }
    const { restartOntoNewRelease } = await import("./release_switch.ts");
    const done = await restartOrDefer(
      ctx,
      settings,
      intent,
      (open) =>
        restartOntoNewRelease(
          ctx,
          settings,
          intent.previousRelease,
          intent.previousVersion ?? null,
          open,
        ),
      deferOptions,
    );
    if (!done.restarted) return waiting(done);
    return applied(done.result.record.pid, done.result.info.appServerVersion, done.interrupted);
  } finally {
    await lock.release();
  }
}

/**
 * Revalidates a pending restart against what runs now: why it is moot, or
 * `undefined` when it still applies (see {@linkcode mootReason}).
 */
export async function pendingMoot(
  ctx: DaemonContext,
  settings: DaemonSettings,
  pending: StoredIntent,
): Promise<string | undefined> {
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running") {
    return mootReason(pending, { alive: false, flagsMatch: false, launchedAfterDeferral: false });
  }
  const [info, facts] = await Promise.all([
    probe(ctx),
    tryReadBinaryFacts(ctx.paths, binaryFor(ctx, settings).path),
  ]);
  const since = Date.parse(pending.since);
  return mootReason(pending, {
    alive: true,
    runningVersion: info?.appServerVersion,
    managedVersion: facts?.version,
    flagsMatch: flagsMatch(state.record, settings),
    launchedAfterDeferral: Number.isFinite(since) && state.startTime.getTime() > since,
  });
}

function waiting(done: RestartOrDeferOutcome<unknown> & { restarted: false }): ApplyPendingResult {
  return {
    status: "waiting",
    pendingRestart: done.pendingRestart,
    ...(done.activeTurns !== undefined ? { activeTurns: done.activeTurns } : {}),
    ...(done.warnings?.length ? { warnings: done.warnings } : {}),
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
  | { restarted: false; pendingRestart: PendingRestart; activeTurns?: number; warnings?: string[] };

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
    (open) => restartLocked(ctx, settings, open),
    options,
  );
  return done.restarted
    ? { restarted: true, result: done.result, interruptedTurns: done.interrupted }
    : done;
}
