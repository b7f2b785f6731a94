/**
 * The updater loop's pass, `codexd update --updater-pass` (a fresh process
 * on the current code every `updateIntervalMinutes`, see `loop.ts`): the
 * update steps (`update_steps.ts`) as the updater runs them — it honours
 * `autoUpdateEnabled`, installs a codexd pin, only try-locks `daemon.lock`
 * (a busy lock defers the restart to the next pass), records every outcome
 * in `updater-state.json` and writes one updater-log line per pass, failed
 * ones included; the logs are capped after every pass. The user's
 * `codexd update` is `update.ts`.
 *
 * @module
 */
import { describeError } from "../errors.ts";
import { createContext, type DaemonContext, type DaemonOptions } from "../server/context.ts";
import { tryAcquireDaemonLock } from "../state/daemon_lock.ts";
import { capLogs } from "../state/logs.ts";
import { type DaemonPaths, daemonPaths, resolveCodexHome } from "../state/paths.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";
import { pinnedStatus } from "./pin_flags.ts";
import { patchUpdaterState } from "./state.ts";
import { oneLine, passSummary, type UpdateResult } from "./update_report.ts";
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
} from "./update_steps.ts";

/**
 * Runs one updater pass now; the updater's CLI prints nothing for it: its
 * one log line is the record.
 *
 * @throws {CodexdError} `INSTALL_FAILED` (nothing changed), `UPDATE_FAILED` (rolled back).
 */
export async function updaterPass(options: UpdateOptions = {}): Promise<UpdateResult> {
  checkPinFlags(options);
  let paths = fallbackPaths(options);
  let line: string | undefined;
  try {
    const ctx = createContext(options);
    paths = ctx.paths;
    const result = await withVersions(ctx, await passOnce(ctx, options));
    line = `update pass: ${passSummary(result)}`;
    // The loop stats the launched binary at every check; a loop started by an
    // older codexd (or a host without stat(1)) still gets it once per pass.
    const { followBinary } = await import("./follow_binary.ts");
    await followBinary({ ...options, codexBin: undefined }).catch(() => {});
    return result;
  } catch (error) {
    line = `update pass: error: ${oneLine(error)}`;
    throw error;
  } finally {
    if (paths) {
      // Every pass caps the logs, failed ones included: they are when logs grow fastest.
      await capLogs(paths);
      await appendUpdaterLog(paths, line ?? "update pass: ended");
    }
  }
}

/** The pass's steps, each outcome recorded in `updater-state.json`. */
async function passOnce(ctx: DaemonContext, options: UpdateOptions): Promise<UpdateResult> {
  const run = await beginUpdate(ctx);
  const notNow = await notUpdatable(run);
  if (notNow) return await record(ctx, notNow);
  await sweepLeftovers(run);
  if (!run.settings.updater.autoUpdateEnabled) {
    return await record(ctx, unchanged(run, "autoUpdateDisabled"));
  }
  const wanted = await wantedRelease(run, options, { updaterPass: true });
  if (wanted.report !== undefined) {
    return await record(ctx, unchanged(run, wanted.report, wanted.pin));
  }
  const installed = await recordingFailure(
    ctx,
    () => installRelease(run, options, wanted.version),
  );
  const outcome = await installedOutcome(run, installed, wanted.pin);
  const skipped = await skipFailedRelease(run, installed, outcome, options);
  if (skipped) return await record(ctx, skipped);
  const lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) {
    return await record(ctx, { ...pinnedStatus(outcome), restartDeferred: true });
  }
  try {
    return await recordingFailure(
      ctx,
      async () => await record(ctx, await finishUnderLock(run, outcome, installed, options)),
    );
  } finally {
    await lock.release();
  }
}

/** The paths to log to when the context itself could not be made (e.g. an unsafe home). */
function fallbackPaths(options: DaemonOptions): DaemonPaths | undefined {
  try {
    return daemonPaths(resolveCodexHome(options.codexHome));
  } catch {
    return undefined;
  }
}

/** Runs `step`; a failure is recorded as the pass's last result, then rethrown. */
async function recordingFailure<T>(ctx: DaemonContext, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    // Recording is best effort: the pass's own error is what the caller must see.
    await patchUpdaterState(ctx.paths, {
      lastCheck: new Date(ctx.clock.now()).toISOString(),
      lastResult: `error: ${describeError(error).split("\n")[0]}`,
    }).catch(() => {});
    throw error;
  }
}

/** Records the pass's outcome in `updater-state.json`; passes `result` through. */
async function record(ctx: DaemonContext, result: UpdateResult): Promise<UpdateResult> {
  await patchUpdaterState(ctx.paths, {
    lastCheck: new Date(ctx.clock.now()).toISOString(),
    lastResult: passSummary(result),
  });
  return result;
}
