/**
 * What a command that wants the app-server up tells the updater, once
 * `bootstrap` enabled it: {@linkcode markWanted} (clear the `down` marker and
 * any supervision give-up, so supervision brings the server back again) and
 * {@linkcode withUpdaterEnsured} (start the updater should it not run, its
 * failure a warning on the command's result). `start`, `restart`,
 * `bootstrap` and remote control's restart share them.
 *
 * Touches `app-server-daemon/down`, `updater-state.json`, and whatever
 * `ensureUpdater` (`loop.ts`) touches.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import type { LifecycleResult } from "../server/result.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { isDown, setDown } from "../state/down_marker.ts";
import { resetSupervision } from "./state.ts";

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
  const { ensureUpdater } = await import("./loop.ts");
  const warning = await ensureUpdater(ctx, settings).then(
    () => undefined,
    (error: Error) => `updater not running: ${error.message}`,
  );
  return warning ? { ...outcome, warnings: [...(outcome.warnings ?? []), warning] } : outcome;
}
