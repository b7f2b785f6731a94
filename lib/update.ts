/**
 * `codexd update`: install the latest (or a given, or pinned) release from
 * the configured source now, then restart the app-server only if the
 * version it runs differs from the managed binary's — at once when idle (or
 * `--now`), else left pending until no turn runs. A new release that fails
 * to become ready is rolled back. It waits for `daemon.lock` and records
 * nothing in the updater's state.
 *
 * The steps are `updater/update_steps.ts`, shared with the updater loop's
 * pass (`update --updater-pass`, `updater/pass.ts`).
 *
 * @module
 */
import { createContext, type DaemonContext, lockDaemon } from "./server/context.ts";
import type { UpdateResult } from "./updater/update_report.ts";
import {
  beginUpdate,
  checkPinFlags,
  finishUnderLock,
  installedOutcome,
  installRelease,
  notUpdatable,
  skipFailedRelease,
  sweepLeftovers,
  unchanged,
  type UpdateOptions,
  wantedRelease,
  withVersions,
} from "./updater/update_steps.ts";

export { oneLine, updateMessage, type UpdateResult } from "./updater/update_report.ts";
export type { UpdateOptions } from "./updater/update_steps.ts";

/**
 * Runs one update now.
 *
 * @throws {CodexdError} `USAGE` (pin flags), `INSTALL_FAILED` (nothing changed),
 * `UPDATE_FAILED` (rolled back).
 * @example
 * ```ts ignore
 * import { update } from "./update.ts";
 * const { status, previousVersion, version } = await update({ source: "npm" });
 * ```
 */
export async function update(options: UpdateOptions = {}): Promise<UpdateResult> {
  checkPinFlags(options);
  const ctx = createContext(options);
  return await withVersions(ctx, await updateOnce(ctx, options));
}

async function updateOnce(ctx: DaemonContext, options: UpdateOptions): Promise<UpdateResult> {
  const run = await beginUpdate(ctx);
  const notNow = await notUpdatable(run);
  if (notNow) return notNow;
  await sweepLeftovers(run);
  const wanted = await wantedRelease(run, options, { updaterPass: false });
  if (wanted.report !== undefined) return unchanged(run, wanted.report, wanted.pin);
  const installed = await installRelease(run, options, wanted.version);
  const outcome = await installedOutcome(run, installed, wanted.pin);
  const skipped = await skipFailedRelease(run, installed, outcome, options);
  if (skipped) return skipped;
  const lock = await lockDaemon(ctx);
  try {
    return await finishUnderLock(run, outcome, installed, options);
  } finally {
    await lock.release();
  }
}
