/**
 * `start`: idempotent — report a running app-server, adopt one a killed CLI
 * left starting, else spawn one and return once it answers. Also the two
 * steps every command that wants the server up shares: clearing the `down`
 * marker and re-ensuring the updater once `bootstrap` enabled it.
 *
 * @module
 */
import { readServerState, removeServerRecords } from "./server/server_record.ts";
import { spawnAppServer, spawnWarnings, waitUntilReady } from "./server/spawn.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  lockDaemon,
  probe,
} from "./server/context.ts";
import { isDown, setDown } from "./state/down_marker.ts";
import { pathExists, removeIfPresent } from "./state/atomic_file.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { tryReadBinaryFacts } from "./server/managed_binary.ts";
import { buildResult, describeOwner, type LifecycleResult, unverifiable } from "./server/result.ts";
import { type DaemonSettings, loadSettings } from "./state/settings.ts";
import { CodexdError } from "./errors.ts";
import { clearPendingRestart, pendingRestartPath } from "./idle/pending.ts";
import { resetSupervision } from "./updater/state.ts";

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
  await clearPendingRestart(ctx.paths);
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
 * Starts the managed app-server unless it is already up; returns once it
 * answers `initialize`. Idempotent.
 *
 * @example
 * ```ts ignore
 * import { start } from "./start.ts";
 * const result = await start({ codexHome: "/home/me/.codex" });
 * console.log(result.status, result.pid); // "started" 4242, or "alreadyRunning"
 * ```
 */
export async function start(options: DaemonOptions = {}): Promise<LifecycleResult> {
  const ctx = createContext(options);
  await using _lock = await lockDaemon(ctx);
  const { settings } = await loadSettings(ctx.paths);
  await markWanted(ctx, settings);
  return await finishLaunch(ctx, settings, await startLocked(ctx, settings, { fresh: true }));
}

/**
 * What `start` and `restart` add once the app-server is up: the server's own
 * remote-control view when the setting is on, and the updater re-ensured.
 */
export async function finishLaunch<T extends LifecycleResult>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  outcome: T,
): Promise<T> {
  const reported = settings.remoteControlEnabled
    ? await (await import("./remote_control/report.ts")).withRemoteControlView(
      ctx,
      settings,
      outcome,
    )
    : outcome;
  const ensured = await withUpdaterEnsured(ctx, settings, reported);
  // A restart still pending (`start` on a server that kept running) gets
  // its applier back should it have died: nothing pending without one.
  if (!pathExists(pendingRestartPath(ctx.paths), { follow: false })) return ensured;
  const { ensurePendingApplier } = await import("./updater/applier.ts");
  const { warning } = await ensurePendingApplier(ctx, settings);
  return warning ? { ...ensured, warnings: [...(ensured.warnings ?? []), warning] } : ensured;
}

/**
 * A user asked for the app-server to run: clear the `down` marker and any
 * supervision give-up so the updater supervises it again. Only relevant once
 * `bootstrap` enabled the updater, so the hot path of a plain `start` skips it.
 */
export async function markWanted(ctx: DaemonContext, settings: DaemonSettings): Promise<void> {
  // A `down` left by a stop under unreadable settings is cleared too.
  if (isDown(ctx.paths)) await setDown(ctx.paths, false);
  if (settings.updater.enabled) await resetSupervision(ctx.paths);
}

/** Re-ensures the updater after start/restart when `bootstrap` enabled it. */
export async function withUpdaterEnsured<T extends LifecycleResult>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  outcome: T,
): Promise<T> {
  if (!settings.updater.enabled) return outcome;
  const { ensureUpdater } = await import("./updater/loop.ts");
  const warning = await ensureUpdater(ctx, settings).then(
    () => undefined,
    (error: Error) => `updater not running: ${error.message}`,
  );
  return warning ? { ...outcome, warnings: [...(outcome.warnings ?? []), warning] } : outcome;
}
