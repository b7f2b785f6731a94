/**
 * The lifecycle steps every command and the updater share, each run under
 * `daemon.lock` the caller already holds: {@linkcode startLocked} (report a
 * running app-server, adopt one a killed CLI left starting, else spawn one)
 * and {@linkcode restartLocked} (check the binary, end the old server through
 * the turn-safety gate, release a launch parked meanwhile). `start`,
 * `restart`, `bootstrap`, `autostart-start`, supervision, `apply-pending` and
 * `follow-binary` call them; the commands add what they report on top.
 *
 * Ending a server is the gate's alone (`idle/gate.ts`, a layer up): a
 * restart is handed the gate's opener ({@linkcode StopGate}) rather than
 * reaching for it, so this room never imports a room above it.
 *
 * @module
 */
import { readServerState, removeServerRecords } from "./server_record.ts";
import {
  type LaunchedFrom,
  prepareLaunch,
  recordAndAwait,
  spawnAppServer,
  spawnWarnings,
  waitUntilReady,
} from "./spawn.ts";
import { binaryFor, type DaemonContext, probe } from "./context.ts";
import { findSocketOwner } from "./socket_owner.ts";
import {
  type BinaryFacts,
  type ManagedBinary,
  preflightBinary,
  readBinaryFacts,
  tryReadBinaryFacts,
} from "./managed_binary.ts";
import {
  buildResult,
  describeOwner,
  type LifecycleResult,
  unmanagedServer,
  unverifiable,
} from "./result.ts";
import { type ParkedProcess, spawnParked } from "../process/launch.ts";
import type { HomeLayout } from "../state/home_layout.ts";
import { removeIfPresent } from "../state/atomic_file.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { CodexdError } from "../errors.ts";

/** Options of {@linkcode startLocked}. */
export interface StartLockedOptions {
  /**
   * A user's fresh start: drop the app-server's `loaded-threads.json` first so
   * threads a user stopped do not come back (the reference does the same).
   * Supervision restarts after a crash keep it. @default {false}
   */
  fresh?: boolean;
}

/** `start` under an already held lock. */
export async function startLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
  options: StartLockedOptions = {},
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  const state = await readServerState(ctx.paths);
  switch (state.kind) {
    case "running": {
      // Up, or still starting after a CLI was killed mid-start: adopt it.
      const [answered, facts] = await Promise.all([
        probe(ctx),
        tryReadBinaryFacts(ctx.paths, binary.path),
      ]);
      // One that never answers is left running: it may be a hung server in
      // the middle of turns, and "cannot tell" is never "idle" (the
      // turn-safety gate's rule); a user's `restart` or `stop` replaces it.
      const info = answered ?? await waitUntilReady(ctx, state.record)
        .catch((error) => {
          throw leftRunning(error, state.record.pid);
        });
      return await buildResult(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
        changed: false,
      }, facts);
    }
    case "unverifiable": {
      const info = await probe(ctx);
      if (info === undefined) throw unverifiable(ctx, state);
      return await buildResult(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
        changed: false,
      });
    }
    case "stale":
      await removeServerRecords(ctx.paths);
      break;
    case "missing":
      break;
  }
  const answering = await probe(ctx);
  if (answering) {
    // Someone else's server (started by hand): "ensure running" holds, as
    // the reference answers; say whose it is.
    const owner = findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath);
    return await buildResult(ctx, binary, "alreadyRunning", {
      managed: false,
      ...(owner ? { pid: owner.pid } : {}),
      appServerVersion: answering.appServerVersion,
      changed: false,
      warnings: [
        `no pid record names this app-server (${describeOwner(owner)}); codexd adopt manages it`,
      ],
    });
  }
  if (options.fresh) await removeIfPresent(ctx.paths.loadedThreadsFile);
  const spawned = await spawnAppServer(ctx, settings, binary);
  // A fresh process on the current binary and settings satisfies any pending restart.
  await removeIfPresent(ctx.paths.pendingRestartFile);
  return await buildResult(ctx, binary, "started", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    changed: true,
    warnings: await spawnWarnings(),
  }, spawned.facts);
}

/** A recorded server that never became ready, left running: the error says so. */
function leftRunning(error: unknown, pid: number): unknown {
  if (!(error instanceof CodexdError)) return error;
  return new CodexdError(
    error.code,
    `${error.message}\nThe recorded app-server (pid ${pid}) was left running: it may be busy; codexd cannot tell.`,
    `codexd restart (replaces it now), or: codexd stop`,
    error.details,
  );
}

/**
 * What {@linkcode restartLocked} needs of the turn-safety gate: its opener
 * (`idle/gate.ts`'s `GateOpener` fits), asked right before the old server is
 * signalled; the pass it returns ends the recorded server and says whether a
 * process was stopped.
 */
export type StopGate = () => Promise<{ end(): Promise<boolean> }>;

/**
 * `restart` under an already held lock, inside the turn-safety gate: `open`
 * is asked right before the old server is signalled (a hold unwinds this,
 * nothing stopped).
 */
export async function restartLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
  open: StopGate,
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
  await removeIfPresent(ctx.paths.pendingRestartFile);
  return await buildResult(ctx, binary, "restarted", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    warnings: await spawnWarnings(),
  }, spawned.facts);
}

/** A launch prepared and forked while the old server exits, waiting to exec. */
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
