/**
 * The one place remote control restarts the app-server (for releases that
 * cannot switch live, or a server that stopped answering): through the
 * turn-safety gate (`idle/gate.ts`), so running turns are never cut short
 * and a server that does not answer is never restarted blind. When it must
 * wait, the restart is left pending and its applier (the updater, or the
 * pending-restart applier) applies it once the server is idle.
 * Touches what a restart (or a pending restart) touches.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import { restartWhenIdle, type RestartWhenIdleOutcome } from "../updater/apply_pending.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { withUpdaterEnsured } from "../updater/ensure.ts";

/** What {@linkcode restartToApply} did: restarted now, or left a pending restart. */
export type RestartToApplyOutcome = RestartWhenIdleOutcome;

/** Restarts the app-server onto `settings` when it is idle, else leaves it pending. */
export async function restartToApply(
  ctx: DaemonContext,
  settings: DaemonSettings,
  reason: string,
): Promise<RestartToApplyOutcome> {
  const outcome = await restartWhenIdle(ctx, settings, reason);
  if (!outcome.restarted) return outcome;
  return { ...outcome, result: await withUpdaterEnsured(ctx, settings, outcome.result) };
}
