/**
 * Moving the app-server between releases: whether an update restarts at
 * all (only when the running version differs from the installed one; turn
 * safe: left pending while turns run), the restart onto a newly installed
 * release with rollback (a release that never becomes ready puts `current`
 * back, starts the previous one and is skipped by later passes), and pruning
 * of old release directories. Called under `daemon.lock` by an update
 * (`update_steps.ts`) and by the pending-restart path.
 *
 * Touches `packages/standalone/{current,releases/}` and `updater-state.json`.
 *
 * @module
 */
import { spawnAppServer, type SpawnOutcome } from "../server/spawn.ts";
import { binaryFor, type DaemonContext } from "../server/context.ts";
import { CodexdError, describeError } from "../errors.ts";
import { tryReadBinaryFacts } from "../server/managed_binary.ts";
import { readServerState } from "../server/server_record.ts";
import type { DaemonSettings } from "../state/settings.ts";
import type { GateOpener } from "../idle/gate.ts";
import { patchUpdaterState } from "./state.ts";
import { parseReleaseName, sameVersion } from "../versions.ts";
import { basename } from "@std/path/posix/basename";
import { probe } from "../app_server/probe.ts";
import { loadSettings } from "../state/settings.ts";
import { clearPendingRestart, logRestartEvent, readPendingRestart } from "../idle/pending.ts";
import { restartOrDefer, type StoredIntent } from "./deferred_restart.ts";
import type { UpdateResult } from "./update_report.ts";
import type { StageListener } from "../install/step.ts";

/** What {@linkcode restartIfVersionDiffers} takes of the update's options. */
export interface RestartChoice {
  /** Told `restarting` as the restart begins. */
  onStage?: StageListener;
  /** Restart at once even when turns are running. @default {false} */
  now?: boolean;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/**
 * Under the lock: moves the app-server onto the managed binary when its
 * version differs — only when it is idle (or `now`); otherwise the restart
 * is left pending for the updater (see `deferred_restart.ts`).
 */
export async function restartIfVersionDiffers(
  ctx: DaemonContext,
  outcome: UpdateResult,
  previousRelease: string | undefined,
  options: RestartChoice,
): Promise<UpdateResult> {
  const { settings } = await loadSettings(ctx.paths);
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running") return outcome;
  const info = await probe(ctx);
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

/**
 * Restarts onto the new release; if it never becomes ready, puts `current`
 * back and starts the previous release again. Call under the lock, inside
 * the turn-safety gate: `open` is asked right before the old server is
 * signalled.
 */
export async function restartOntoNewRelease(
  ctx: DaemonContext,
  settings: DaemonSettings,
  previousRelease: string | undefined,
  previousVersion: string | null,
  open: GateOpener,
): Promise<SpawnOutcome> {
  const binary = binaryFor(ctx, settings);
  await (await open()).end();
  try {
    return await spawnAppServer(ctx, settings, binary);
  } catch (error) {
    if (previousRelease === undefined) throw error;
    const failedVersion = (await tryReadBinaryFacts(ctx.paths, binary.path))?.version;
    const { switchCurrent } = await import("../install/layout.ts");
    await switchCurrent(ctx.paths, previousRelease);
    await patchUpdaterState(ctx.paths, { skipVersion: failedVersion });
    const details = { rolledBack: true, failedVersion, rolledBackTo: previousVersion };
    try {
      await spawnAppServer(ctx, settings, binaryFor(ctx, settings));
    } catch (again) {
      throw new CodexdError(
        "UPDATE_FAILED",
        `Release ${failedVersion} did not become ready and the previous release ${previousVersion} did not start either: ${
          describeError(again)
        }`,
        "codexd logs",
        { ...details, serving: false },
      );
    }
    throw new CodexdError(
      "UPDATE_FAILED",
      `Release ${failedVersion} did not become ready; rolled back to ${previousVersion}, which is serving: ${
        describeError(error).split("\n")[0]
      }`,
      "codexd logs",
      { ...details, serving: true },
    );
  }
}

/**
 * Removes old releases so hourly updates do not fill the disk, keeping the
 * current one, the previous one (rollback) and the one the running
 * app-server was started from (its files stay in use).
 */
export async function pruneReleases(ctx: DaemonContext, previousRelease?: string): Promise<void> {
  const releases = `${ctx.paths.standaloneDir}/releases`;
  const keep = new Set<string>();
  const current = await Deno.realPath(`${ctx.paths.standaloneDir}/current`).catch(() => "");
  keep.add(basename(current));
  if (previousRelease) keep.add(previousRelease);
  const state = await readServerState(ctx.paths);
  if (state.kind === "running") {
    const exe = await Deno.readLink(`/proc/${state.record.pid}/exe`).catch(() => "");
    const inRelease = exe.startsWith(`${releases}/`) ? exe.slice(releases.length + 1) : "";
    keep.add(inRelease.split("/")[0]);
  }
  // Only `<version>-<target>` directories (lib/versions.ts) are ever removed.
  for await (const entry of Deno.readDir(releases)) {
    if (!entry.isDirectory || keep.has(entry.name) || parseReleaseName(entry.name) === undefined) {
      continue;
    }
    await Deno.remove(`${releases}/${entry.name}`, { recursive: true }).catch(() => {});
  }
}
