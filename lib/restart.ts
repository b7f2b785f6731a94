/**
 * `restart`: check the binary, stop the recorded app-server (if any), start a
 * fresh one. A broken binary never turns a working server into no server.
 *
 * @module
 */
import { readServerState } from "./server_record.ts";
import {
  type LaunchedFrom,
  prepareLaunch,
  recordAndAwait,
  spawnWarnings,
} from "./app_server_spawn.ts";
import { type ParkedProcess, spawnParked } from "./launch.ts";
import type { HomeLayout } from "./home_layout.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  lockDaemon,
  probe,
} from "./context.ts";
import {
  type BinaryFacts,
  type ManagedBinary,
  preflightBinary,
  readBinaryFacts,
} from "./managed_binary.ts";
import { buildResult, type LifecycleResult, unmanagedServer } from "./result.ts";
import { type DaemonSettings, loadSettings } from "./settings.ts";
import { finishLaunch, markWanted } from "./start.ts";
import { stopRecorded, turnFields } from "./stop.ts";
import { findSocketOwner } from "./socket_owner.ts";
import { clearPendingRestart } from "./idle/pending.ts";
import { checkTurnsBeforeStop, type TurnReport, type WhenIdleOptions } from "./idle/when_idle.ts";

/** `restart` under an already held lock. */
export async function restartLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
  beforeStop?: () => Promise<unknown>,
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  // Check the binary (and that it reports a version) before stopping
  // anything: a broken binary must not turn a working server into no server.
  preflightBinary(binary);
  await readBinaryFacts(ctx.paths, binary.path);
  const state = await readServerState(ctx.paths);
  // What must be learned from the old server (its running turns) ends here.
  await beforeStop?.();
  // SIGTERM goes out at once. While the old server exits (~20 ms), the new
  // one is prepared and parked (forked, its shell started, waiting to exec);
  // it is released once the old one is gone.
  const stopping = stopRecorded(ctx, state, settings);
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
  // Before the lock: waiting for turns must not block other commands. A plain
  // restart only counts them: that runs alongside taking the lock and reading
  // settings, and is awaited before the old server is stopped.
  const counting = checkTurnsBeforeStop(ctx, "restart", options);
  counting.catch(() => {}); // handled where awaited; never an unhandled rejection meanwhile
  if (options.whenIdle) await counting;
  await using _lock = await lockDaemon(ctx);
  const { settings } = await loadSettings(ctx.paths);
  await markWanted(ctx, settings);
  const outcome = await restartLocked(ctx, settings, () => counting);
  const turns = await counting;
  const warnings = [...turns.warnings, ...(outcome.warnings ?? [])];
  const combined = {
    ...outcome,
    ...(warnings.length ? { warnings } : {}),
    ...turnFields(turns),
  };
  return await finishLaunch(ctx, settings, combined);
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
