/**
 * The one place remote control restarts the app-server (for releases that
 * cannot switch live, or a server that stopped answering). Turn safety swaps
 * this body for its restart-when-idle rule; callers already handle a
 * deferred restart. Touches what a restart touches.
 *
 * @module
 */
import type { DaemonContext } from "../context.ts";
import { restartLocked } from "../restart.ts";
import type { LifecycleResult } from "../result.ts";
import type { DaemonSettings } from "../settings.ts";
import { withUpdaterEnsured } from "../start.ts";

/**
 * What {@linkcode restartToApply} did: restarted now, or (under turn
 * safety's idle rule) left a pending restart for when running turns end.
 * Shaped like turn safety's `restartWhenIdle` outcome so it can be returned
 * as is.
 */
export type RestartToApplyOutcome =
  | { restarted: true; result: LifecycleResult }
  | { restarted: false; pendingRestart: unknown; activeTurns?: number };

/**
 * Restarts the app-server so its launch flags carry `settings`. The one place
 * remote control restarts anything: turn safety swaps the body for its
 * restart-when-idle rule, e.g.
 * `return await (await import("../idle/apply_pending.ts")).restartWhenIdle(ctx, settings, reason);`
 */
export async function restartToApply(
  ctx: DaemonContext,
  settings: DaemonSettings,
  _reason: string,
): Promise<RestartToApplyOutcome> {
  const result = await withUpdaterEnsured(ctx, settings, await restartLocked(ctx, settings));
  return { restarted: true, result };
}
