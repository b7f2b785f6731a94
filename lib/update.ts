/**
 * One update pass: install the latest (or a pinned) release from the
 * configured source, then restart the app-server only if the version it runs
 * differs from the managed binary's. A new release that fails to become ready
 * is rolled back: `current` goes back to the previous release, which is
 * started again, and that version is skipped by later passes.
 *
 * The download runs outside `daemon.lock` (it can take minutes; the install
 * has its own `install.lock`); the restart decision is made under it. From
 * the updater loop the lock is only try-locked: a busy lock defers the
 * restart to the next pass.
 *
 * @module
 */
import { readServerState } from "./server/server_record.ts";
import { tryAcquireDaemonLock } from "./state/daemon_lock.ts";
import { CodexdError, describeError } from "./errors.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  lockDaemon,
  probe,
  requireHome,
} from "./server/context.ts";
import { pruneReleases, restartOntoNewRelease } from "./updater/release_switch.ts";
import { capLogs } from "./state/logs.ts";
import { appendUpdaterLog } from "./state/updater_log.ts";
import { type DaemonPaths, daemonPaths, resolveCodexHome } from "./state/paths.ts";
import { readBinaryFacts, tryReadBinaryFacts } from "./server/managed_binary.ts";
import { isAnswering } from "./app_server/probe.ts";
import { type DaemonSettings, type InstallSource, loadSettings } from "./state/settings.ts";
import { decidePinnedPass, type PinView, pinView, readReferenceSelection } from "./state/pin.ts";
import { applyPinFlags, pinnedStatus } from "./update_pin.ts";
import { patchUpdaterState, readUpdaterState } from "./updater/state.ts";
import { CODEXD_VERSION } from "./version.ts";
import { oneLine, passSummary, updateMessage, type UpdateResult } from "./updater/update_report.ts";

export { oneLine, updateMessage, type UpdateResult } from "./updater/update_report.ts";
import { restartOrDefer, type StoredIntent } from "./updater/deferred_restart.ts";
import { clearPendingRestart, logRestartEvent, readPendingRestart } from "./idle/pending.ts";
import { sameVersion } from "./versions.ts";
import type { StageListener } from "./install/step.ts";

/** Options for {@linkcode update}. */
export interface UpdateOptions extends DaemonOptions {
  /** Install source. @default {settings.updater.source} */
  source?: InstallSource;
  /** Version to install. @default {"latest", or the pinned version on an updater pass} */
  version?: string;
  /** Record `version` as the pin (`updater.pinnedVersion`): later passes install and run exactly it. @default {false} */
  pin?: boolean;
  /** Drop codexd's pin and follow the latest again. @default {false} */
  unpin?: boolean;
  /** npm registry URL (npm source). @default {npm's configured registry} */
  registry?: string;
  /** Called during downloads (the CLI shows a progress bar on a terminal). */
  onProgress?: (received: number, total?: number) => void;
  /** Each stage as it begins: the install's, then `restarting` (the CLI prints them on stderr). */
  onStage?: StageListener;
  /** Set by the updater loop: try-lock, honour `autoUpdateEnabled`, record the outcome. */
  updaterPass?: boolean;
  /** Aborting it interrupts the install step (`INTERRUPTED`); the CLI aborts it on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Restart at once even when turns are running (they drain for the grace). @default {false} */
  now?: boolean;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/** Adds the reference-style fields: both versions, a message, `changed`. */
async function withVersions(ctx: DaemonContext, result: UpdateResult): Promise<UpdateResult> {
  const runningVersion = result.appServerVersion ??
    (await probe(ctx))?.appServerVersion ?? null;
  return {
    ...result,
    installedVersion: result.version,
    runningVersion,
    message: updateMessage(result, runningVersion),
    changed: result.installed || result.restarted || result.pinChanged === true,
  };
}

async function install(
  ctx: DaemonContext,
  settings: DaemonSettings,
  options: UpdateOptions,
): Promise<{ installed: boolean; previousRelease?: string }> {
  const source = options.source ?? settings.updater.source;
  if (source === "install-sh") {
    const { installFromScript } = await import("./install/install_sh.ts");
    const result = await installFromScript(ctx.paths, {
      release: options.version,
      signal: options.signal,
      onStage: options.onStage,
    });
    return { installed: result.installed };
  }
  const { installFromNpm } = await import("./install/npm.ts");
  const result = await installFromNpm(ctx.paths, {
    version: options.version,
    registry: options.registry,
    onProgress: options.onProgress,
    onStage: options.onStage,
    signal: options.signal,
  });
  return { installed: result.installed, previousRelease: result.previousRelease };
}

/**
 * Runs one update pass now.
 *
 * @throws {CodexdError} `INSTALL_FAILED` (nothing changed), `UPDATE_FAILED` (rolled back).
 * @example
 * ```ts ignore
 * import { update } from "./update.ts";
 * const { status, previousVersion, version } = await update({ source: "npm" });
 * ```
 */
export async function update(options: UpdateOptions = {}): Promise<UpdateResult> {
  if (options.pin && options.version === undefined) {
    throw new CodexdError(
      "USAGE",
      "Cannot pin without a version: --pin needs --version X",
      "codexd update --version X.Y.Z --pin",
    );
  }
  if (options.pin && options.unpin) {
    throw new CodexdError("USAGE", "Cannot both --pin and --unpin", "codexd update --unpin");
  }
  if (!options.updaterPass) {
    const ctx = createContext(options);
    return await withVersions(ctx, await updateOnce(ctx, options));
  }
  let paths = fallbackPaths(options);
  let line: string | undefined;
  try {
    const ctx = createContext(options);
    paths = ctx.paths;
    const result = await withVersions(ctx, await updateOnce(ctx, options));
    line = `update pass: ${passSummary(result)}`;
    // The loop stats the launched binary at every check; a loop started by an
    // older codexd (or a host without stat(1)) still gets it once per pass.
    const { followBinary } = await import("./follow_binary.ts");
    await followBinary({ ...options, codexBin: undefined }).catch(() => {});
    return result;
  } catch (error) {
    // The updater's CLI prints nothing for a pass: its one log line is the record.
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

/** The paths to log to when the context itself could not be made (e.g. an unsafe home). */
function fallbackPaths(options: DaemonOptions): DaemonPaths | undefined {
  try {
    return daemonPaths(resolveCodexHome(options.codexHome));
  } catch {
    return undefined;
  }
}

async function updateOnce(ctx: DaemonContext, options: UpdateOptions): Promise<UpdateResult> {
  // A mistyped home must not grow a release tree (only bootstrap creates a home).
  requireHome(ctx);
  const { settings } = await loadSettings(ctx.paths);
  const binary = binaryFor(ctx, settings);
  const previousFacts = await tryReadBinaryFacts(ctx.paths, binary.path);
  const base = {
    previousVersion: previousFacts?.version ?? null,
    managedCodexPath: binary.path,
    socketPath: ctx.paths.socketPath,
    codexdVersion: CODEXD_VERSION,
  };
  const nothing = (reason: string, pin: PinView | null = null): UpdateResult => ({
    status: pin ? "pinned" : "noUpdate",
    reason,
    ...base,
    version: base.previousVersion,
    installed: false,
    restarted: false,
    pin,
  });
  // A server started by hand: nothing to update it onto (as the reference answers).
  const { handStartedServer } = await import("./server/hand_started.ts");
  const unmanaged = await handStartedServer(ctx);
  if (unmanaged !== undefined) {
    return await record(ctx, options, {
      ...nothing("unmanagedServer"),
      status: "unsupported",
      appServerVersion: unmanaged.appServerVersion,
    });
  }
  // The reference's package is updated by the reference's own updater.
  if (binary.referencePackage) return await record(ctx, options, nothing("referencePackage"));
  if (!binary.managed) {
    return await record(
      ctx,
      options,
      nothing("externalBinary", { by: "codexBin", path: binary.path }),
    );
  }
  // Every pass removes what killed installs left, even when it installs nothing.
  await (await import("./install/layout.ts")).sweepIfIdle(ctx.paths);
  if (options.updaterPass && !settings.updater.autoUpdateEnabled) {
    return await record(ctx, options, nothing("autoUpdateDisabled"));
  }
  const pinBefore = pinView(settings, undefined, await readReferenceSelection(ctx.paths));
  const decision = decidePinnedPass({
    pin: pinBefore,
    version: options.version,
    unpin: options.unpin,
    updaterPass: options.updaterPass,
  });
  if (decision.kind === "report") {
    return await record(ctx, options, nothing(decision.reason, pinBefore));
  }
  const version = decision.kind === "install" && decision.version !== "latest"
    ? decision.version
    : undefined;

  let installed: { installed: boolean; previousRelease?: string };
  try {
    installed = await install(ctx, settings, { ...options, version });
  } catch (error) {
    throw await recordFailure(ctx, options, error);
  }
  const facts = await readBinaryFacts(ctx.paths, binary.path);
  const { skipVersion } = await readUpdaterState(ctx.paths);
  if (
    installed.installed && installed.previousRelease !== undefined &&
    skipVersion !== undefined && sameVersion(facts.version, skipVersion) && !options.version
  ) {
    // This release already failed to become ready once: stay on the previous one.
    const { switchCurrent } = await import("./install/layout.ts");
    await switchCurrent(ctx.paths, installed.previousRelease);
    return await record(
      ctx,
      options,
      nothing(`skipped ${skipVersion}: it failed before`, pinBefore),
    );
  }

  const lock = options.updaterPass
    ? await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock)
    : await lockDaemon(ctx);
  const outcome: UpdateResult = {
    status: installed.installed ? "updated" : "noUpdate",
    ...base,
    version: facts.version,
    installed: installed.installed,
    restarted: false,
    pin: pinBefore,
  };
  if (lock === undefined) {
    return await record(ctx, options, { ...pinnedStatus(outcome), restartDeferred: true });
  }
  try {
    const pinned = await applyPinFlags(ctx, settings, facts.version, options);
    const result = await restartIfVersionDiffers(
      ctx,
      { ...outcome, ...pinned },
      installed.previousRelease,
      options,
    );
    if (installed.installed) await pruneReleases(ctx, installed.previousRelease);
    return await record(ctx, options, pinnedStatus(result));
  } catch (error) {
    throw await recordFailure(ctx, options, error);
  } finally {
    await lock.release();
  }
}

/**
 * Under the lock: moves the app-server onto the managed binary when its
 * version differs — only when it is idle (or `now`); otherwise the restart
 * is left pending for the updater (see `updater/deferred_restart.ts`).
 */
async function restartIfVersionDiffers(
  ctx: DaemonContext,
  outcome: UpdateResult,
  previousRelease: string | undefined,
  options: UpdateOptions,
): Promise<UpdateResult> {
  const { settings } = await loadSettings(ctx.paths);
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running") return outcome;
  const info = await isAnswering(ctx.paths.socketPath);
  if (info === undefined) return outcome;
  const pending = await readPendingRestart(ctx.paths) as StoredIntent | undefined;
  if (sameVersion(info.appServerVersion, outcome.version)) {
    // It already runs what a restart would launch: an update left pending
    // for another release (e.g. a deferred 2.0.0, then `--version 1.0.0`)
    // is moot now and must not cut a turn later.
    if (pending !== undefined && (pending.kind ?? "update") === "update") {
      await clearPendingRestart(ctx.paths);
      await logRestartEvent(
        ctx.paths,
        ctx.clock.now(),
        `pending restart dropped: already serving ${info.appServerVersion} (${pending.reason})`,
      );
    }
    return { ...outcome, appServerVersion: info.appServerVersion };
  }
  // A release installed by an earlier pass (restart deferred) rolls back to what that pass recorded.
  const rollbackTo = previousRelease ?? pending?.previousRelease;
  const fromVersion = pending?.previousVersion ?? info.appServerVersion;
  options.onStage?.("restarting", outcome.version ?? undefined);
  const done = await restartOrDefer(
    ctx,
    settings,
    {
      kind: "update",
      toVersion: outcome.version,
      reason: `update ${info.appServerVersion} -> ${outcome.version}`,
      previousRelease: rollbackTo,
      previousVersion: fromVersion,
    },
    (open) => restartOntoNewRelease(ctx, settings, rollbackTo, fromVersion, open),
    { now: options.now, idleGapMs: options.idleGapMs },
  );
  if (!done.restarted) {
    return {
      ...outcome,
      appServerVersion: info.appServerVersion,
      restartPending: true,
      pendingRestart: done.pendingRestart,
      ...(done.activeTurns !== undefined ? { activeTurns: done.activeTurns } : {}),
      ...(done.warnings?.length ? { warnings: done.warnings } : {}),
    };
  }
  const spawned = done.result;
  return {
    ...outcome,
    status: "updated",
    version: spawned.facts.version,
    restarted: true,
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    ...(done.interrupted.length ? { interruptedTurns: done.interrupted } : {}),
  };
}

/** Records a failed updater pass; returns the error to rethrow. */
async function recordFailure(
  ctx: DaemonContext,
  options: UpdateOptions,
  error: unknown,
): Promise<unknown> {
  if (options.updaterPass) {
    // Recording is best effort: the pass's own error is what the caller must see.
    await patchUpdaterState(ctx.paths, {
      lastCheck: new Date(ctx.clock.now()).toISOString(),
      lastResult: `error: ${describeError(error).split("\n")[0]}`,
    }).catch(() => {});
  }
  return error;
}

/** Records an updater pass's outcome and caps the logs; passes `result` through. */
async function record(
  ctx: DaemonContext,
  options: UpdateOptions,
  result: UpdateResult,
): Promise<UpdateResult> {
  if (!options.updaterPass) return result;
  await patchUpdaterState(ctx.paths, {
    lastCheck: new Date(ctx.clock.now()).toISOString(),
    lastResult: passSummary(result),
  });
  return result;
}
