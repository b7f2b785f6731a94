/**
 * `start`: idempotent — report a running app-server, adopt one a killed CLI
 * left starting, else spawn one and return once it answers (the step itself
 * is `server/lifecycle.ts`'s `startLocked`, which the updater shares). Also
 * what `start` and `restart` add once the server is up
 * ({@linkcode finishLaunch}).
 *
 * @module
 */
import type { DaemonContext, DaemonOptions } from "./server/context.ts";
import { withLockedHome } from "./server/locked_home.ts";
import { startLocked } from "./server/lifecycle.ts";
import { pathExists } from "./state/atomic_file.ts";
import type { LifecycleResult } from "./server/result.ts";
import type { DaemonSettings } from "./state/settings.ts";
import { markWanted, withUpdaterEnsured } from "./updater/ensure.ts";

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
  return await withLockedHome(options, async (ctx, settings) => {
    await markWanted(ctx, settings);
    return await finishLaunch(ctx, settings, await startLocked(ctx, settings, { fresh: true }));
  });
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
  if (!pathExists(ctx.paths.pendingRestartFile, { follow: false })) return ensured;
  const { ensurePendingApplier } = await import("./updater/applier.ts");
  const { warning } = await ensurePendingApplier(ctx, settings);
  return warning ? { ...ensured, warnings: [...(ensured.warnings ?? []), warning] } : ensured;
}
