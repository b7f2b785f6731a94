/**
 * Moving the app-server between releases: restart onto a newly installed
 * release with rollback (a release that never becomes ready puts `current`
 * back, starts the previous one and is skipped by later passes), and pruning
 * of old release directories. Called under `daemon.lock` by `update` and by
 * the pending-restart path.
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
import { parseReleaseName } from "../versions.ts";
import { basename } from "@std/path/posix/basename";

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
