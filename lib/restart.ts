/**
 * `restart`: check the binary, stop the recorded app-server (if any), start a
 * fresh one. A broken binary never turns a working server into no server.
 *
 * @module
 */
import { type LaunchedFrom, prepareLaunch, recordAndAwait, spawnWarnings } from "./server/spawn.ts";
import { type ParkedProcess, spawnParked } from "./process/launch.ts";
import type { HomeLayout } from "./state/home_layout.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  lockDaemon,
  probe,
} from "./server/context.ts";
import {
  type BinaryFacts,
  type ManagedBinary,
  preflightBinary,
  readBinaryFacts,
} from "./server/managed_binary.ts";
import { buildResult, type LifecycleResult, unmanagedServer } from "./server/result.ts";
import { type DaemonSettings, loadSettings } from "./state/settings.ts";
import { finishLaunch, markWanted } from "./start.ts";
import { turnFields } from "./stop.ts";
import { type GateOpener, throughGate } from "./idle/gate.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { clearPendingRestart } from "./idle/pending.ts";
import {
  countTurnsBeforeStop,
  type IdleAttempt,
  type TurnReport,
  untilIdle,
  type WhenIdleOptions,
} from "./idle/when_idle.ts";

/**
 * `restart` under an already held lock, inside the turn-safety gate: `open`
 * is asked right before the old server is signalled (a hold unwinds this,
 * nothing stopped).
 */
export async function restartLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
  open: GateOpener,
  beforeStop?: () => Promise<unknown>,
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  // Check the binary (and that it reports a version) before stopping
  // anything: a broken binary must not turn a working server into no server.
  preflightBinary(binary);
  await readBinaryFacts(ctx.paths, binary.path);
  // What must be learned from the old server (its running turns) ends here.
  await beforeStop?.();
  const pass = await open();
  // SIGTERM goes out at once. While the old server exits (~20 ms), the new
  // one is prepared and parked (forked, its shell started, waiting to exec);
  // it is released once the old one is gone.
  const stopping = pass.end();
  const parking = parkLaunch(ctx, settings, binary);
  parking.catch(() => {}); // handled where awaited; never an unhandled rejection meanwhile
  let parked: Parked;
  try {
    const stopped = await stopping;
    if (!stopped && await probe(ctx)) {
      throw unmanagedServer(ctx, findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath));
    }
    parked = await parking;
  } catch (error) {
    await (await parking.catch(() => undefined))?.child.abandon();
    throw error;
  }
  await parked.child.release();
  const spawned = await recordAndAwait(
    ctx,
    parked.facts,
    parked.child,
    parked.launchedFrom,
    parked.layout,
  );
  // A fresh process on the current binary and settings satisfies any pending restart.
  await clearPendingRestart(ctx.paths);
  return await buildResult(ctx, binary, "restarted", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    warnings: await spawnWarnings(),
  }, spawned.facts);
}

/**
 * Stops the app-server if it runs, then starts it again (a fresh process).
 *
 * @example
 * ```ts ignore
 * import { restart } from "./restart.ts";
 * const { pid } = await restart();
 * ```
 */
export async function restart(options: RestartOptions = {}): Promise<RestartResult> {
  const ctx = createContext(options);
  if (options.whenIdle) {
    // Waits without the lock; each attempt takes it and asks the gate again.
    const { value, report } = await untilIdle(ctx, "restart", options, async () => {
      await using _lock = await lockDaemon(ctx);
      return await restartUnderLock(ctx, options, "whenIdle");
    });
    return { ...value, ...turnFields(report) };
  }
  // A plain restart only counts the turns: that runs alongside taking the
  // lock and reading settings, and is awaited before the old server is stopped.
  const counting = countTurnsBeforeStop(ctx, "restart");
  counting.catch(() => {}); // handled where awaited; never an unhandled rejection meanwhile
  await using _lock = await lockDaemon(ctx);
  const tried = await restartUnderLock(ctx, options, "now", counting);
  if (!tried.done) throw new Error("a restart now is never held"); // decideGate: "now" proceeds
  return tried.value;
}

async function restartUnderLock(
  ctx: DaemonContext,
  options: RestartOptions,
  mode: "now" | "whenIdle",
  counting: Promise<TurnReport> = Promise.resolve({ warnings: [] }),
): Promise<IdleAttempt<RestartResult>> {
  const { settings } = await loadSettings(ctx.paths);
  await markWanted(ctx, settings);
  const gate = await throughGate(
    ctx,
    settings,
    { mode, idleGapMs: options.idleGapMs },
    (open) => restartLocked(ctx, settings, open, () => counting),
  );
  if (!gate.passed) return { done: false, hold: gate.hold };
  const turns = await counting;
  const outcome = gate.result;
  const warnings = [...turns.warnings, ...(outcome.warnings ?? [])];
  const combined = {
    ...outcome,
    ...(warnings.length ? { warnings } : {}),
    ...turnFields(turns),
  };
  return { done: true, value: await finishLaunch(ctx, settings, combined) };
}

/** Options for {@linkcode restart}. */
export interface RestartOptions extends DaemonOptions, WhenIdleOptions {}

/** What {@linkcode restart} returns. */
export interface RestartResult extends LifecycleResult, Omit<TurnReport, "warnings"> {}

interface Parked {
  facts: BinaryFacts;
  child: ParkedProcess;
  launchedFrom: LaunchedFrom;
  layout: HomeLayout;
}

async function parkLaunch(
  ctx: DaemonContext,
  settings: DaemonSettings,
  binary: ManagedBinary,
): Promise<Parked> {
  const prepared = await prepareLaunch(ctx, settings, binary);
  return {
    facts: prepared.facts,
    child: await spawnParked(prepared.spec),
    launchedFrom: prepared.launchedFrom,
    layout: prepared.layout,
  };
}
