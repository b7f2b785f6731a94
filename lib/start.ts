/**
 * `start`: idempotent — report a running app-server, adopt one a killed CLI
 * left starting, else spawn one and return once it answers. Also the two
 * steps every command that wants the server up shares: clearing the `down`
 * marker and re-ensuring the updater once `bootstrap` enabled it.
 *
 * @module
 */
import { spawnAppServer, spawnWarnings, waitUntilReady } from "./app_server_spawn.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  lockDaemon,
  probe,
} from "./context.ts";
import { setDown } from "./down_marker.ts";
import { tryReadBinaryFacts } from "./managed_binary.ts";
import { readPidState, removePidRecord } from "./pid_record.ts";
import { buildResult, type LifecycleResult, unmanagedServer, unverifiable } from "./result.ts";
import { type DaemonSettings, loadSettings } from "./settings.ts";
import { stopRecorded } from "./stop.ts";
import { resetSupervision } from "./updater_state.ts";

/** `start` under an already held lock. */
export async function startLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  const state = await readPidState(ctx.paths.pidFile);
  switch (state.kind) {
    case "running": {
      // Up, or still starting after a CLI was killed mid-start: adopt it.
      const [answered, facts] = await Promise.all([
        probe(ctx),
        tryReadBinaryFacts(ctx.paths, binary.path),
      ]);
      const info = answered ?? await waitUntilReady(ctx, state.record)
        .catch(async (error) => {
          await stopRecorded(ctx, state, { ...settings, shutdownGraceSeconds: 1 });
          throw error;
        });
      return await buildResult(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
      }, facts);
    }
    case "unverifiable": {
      const info = await probe(ctx);
      if (info === undefined) throw unverifiable(ctx, state);
      return await buildResult(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
      });
    }
    case "stale":
      await removePidRecord(ctx.paths.pidFile);
      break;
    case "missing":
      break;
  }
  if (await probe(ctx)) throw unmanagedServer(ctx);
  const spawned = await spawnAppServer(ctx, settings, binary);
  return await buildResult(ctx, binary, "started", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    warnings: await spawnWarnings(),
  }, spawned.facts);
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
  const outcome = await startLocked(ctx, settings);
  const reported = settings.remoteControlEnabled
    ? await (await import("./remote_control/report.ts")).withRemoteControlView(
      ctx,
      settings,
      outcome,
    )
    : outcome;
  return await withUpdaterEnsured(ctx, settings, reported);
}

/**
 * A user asked for the app-server to run: clear the `down` marker and any
 * supervision give-up so the updater supervises it again. Only relevant once
 * `bootstrap` enabled the updater, so the hot path of a plain `start` skips it.
 */
export async function markWanted(ctx: DaemonContext, settings: DaemonSettings): Promise<void> {
  if (!settings.updater.enabled) return;
  await setDown(ctx.paths, false);
  await resetSupervision(ctx.paths);
}

/** Re-ensures the updater after start/restart when `bootstrap` enabled it. */
export async function withUpdaterEnsured<T extends LifecycleResult>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  outcome: T,
): Promise<T> {
  if (!settings.updater.enabled) return outcome;
  const { ensureUpdater } = await import("./updater.ts");
  const warning = await ensureUpdater(ctx, settings).then(
    () => undefined,
    (error: Error) => `updater not running: ${error.message}`,
  );
  return warning ? { ...outcome, warnings: [...(outcome.warnings ?? []), warning] } : outcome;
}
