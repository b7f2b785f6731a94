/**
 * The pending restart on disk and its log lines.
 *
 * Files: `app-server-daemon/pending-restart.json` (written atomically; its
 * presence is what the updater loop tests with `[ -e … ]` to run
 * `codexd apply-pending`), and one line per deferral, apply and forced
 * interrupt appended to `app-server-daemon/app-server-updater.log`.
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import { type DaemonPaths, ensureStateDir } from "../state/paths.ts";
import type { PendingRestart } from "./policy.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";

/** What is stored: the public part plus what applying it needs. */
export interface StoredPendingRestart extends PendingRestart {
  /** The release to roll back to if the new one does not become ready. */
  previousRelease?: string;
  /** Its version, for the rollback message. */
  previousVersion?: string | null;
  /** The boot clock (ms since boot) at `since`: the deadline counts on it (see `gate.ts`). */
  sinceUptimeMs?: number;
  /** The boot `sinceUptimeMs` was read in; another boot falls back to the wall clock. */
  bootId?: string;
}

/** The path of `pending-restart.json`. */
export function pendingRestartPath(paths: DaemonPaths): string {
  return paths.pendingRestartFile;
}

/** Reads the pending restart; missing or corrupt reads as none. */
export async function readPendingRestart(
  paths: DaemonPaths,
): Promise<StoredPendingRestart | undefined> {
  try {
    const text = await readTextIfPresent(pendingRestartPath(paths));
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || typeof parsed.since !== "string") {
      return undefined;
    }
    return parsed as StoredPendingRestart;
  } catch {
    return undefined;
  }
}

/** Writes the pending restart atomically. */
export async function writePendingRestart(
  paths: DaemonPaths,
  pending: StoredPendingRestart,
): Promise<void> {
  await ensureStateDir(paths);
  await writeFileAtomic(pendingRestartPath(paths), JSON.stringify(pending) + "\n");
}

/** Removes the pending restart (applied, or moot). */
export async function clearPendingRestart(paths: DaemonPaths): Promise<void> {
  await removeIfPresent(pendingRestartPath(paths));
}

/** The public view `status` and `update` print: `{toVersion, since, deadline, reason}` (+ `waitingFor`). */
export function publicPending(pending: StoredPendingRestart): PendingRestart {
  return {
    toVersion: pending.toVersion,
    since: pending.since,
    deadline: pending.deadline,
    reason: pending.reason,
    ...(pending.waitingFor ? { waitingFor: pending.waitingFor } : {}),
    ...(pending.appliedBy ? { appliedBy: pending.appliedBy } : {}),
  };
}

/** Appends one timestamped line to the updater log. */
export async function logRestartEvent(
  paths: DaemonPaths,
  nowMs: number,
  line: string,
): Promise<void> {
  await ensureStateDir(paths);
  // The one append helper: never through a planted symlink, newlines in a
  // stored `reason` folded (root may write this log for a user's home).
  await appendUpdaterLog(paths, line, new Date(nowMs));
}
