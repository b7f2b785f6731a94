/**
 * `updater-state.json`: what the resident updater did last (last check, last
 * result) and what supervision knows (restart count, last exit, backoff,
 * give-up). Written atomically by the updater, read by `status`.
 *
 * @module
 */
import { readTextIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import type { DaemonPaths } from "../state/paths.ts";

/** The updater's persisted state. */
export interface UpdaterState {
  /** ISO time of the last update pass. */
  lastCheck?: string;
  /** Outcome of the last update pass, e.g. `noUpdate`, `updated 0.166.0 -> 0.169.0`, `error: …`. */
  lastResult?: string;
  /** How many times supervision restarted a crashed app-server. */
  restartCount?: number;
  /** ISO time of the last supervised restart attempt. */
  lastRestartAt?: string;
  /** Consecutive failed restarts (resets once the app-server stays up). */
  consecutiveFailures?: number;
  /** ISO time and description of the last crash supervision saw. */
  lastExit?: string;
  /** Current backoff before the next restart attempt, in seconds. */
  backoffSeconds?: number;
  /** ISO time before which supervision will not restart. */
  nextRestartAt?: string;
  /** A release that failed to become ready and was rolled back; later passes skip it. */
  skipVersion?: string;
  /** Set when supervision stopped trying after too many failures. */
  gaveUp?: boolean;
}

/** Reads the updater state; missing or corrupt reads as empty. */
export async function readUpdaterState(paths: DaemonPaths): Promise<UpdaterState> {
  try {
    const parsed = JSON.parse(
      (await readTextIfPresent(paths.updaterStateFile)) ?? "{}",
    );
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** Merges `patch` into the updater state, atomically. */
export async function patchUpdaterState(
  paths: DaemonPaths,
  patch: Partial<UpdaterState>,
): Promise<UpdaterState> {
  const next = { ...(await readUpdaterState(paths)), ...patch };
  await writeFileAtomic(paths.updaterStateFile, JSON.stringify(next) + "\n");
  return next;
}

/** Clears the supervision failure state (a user `start` means: try again). */
export async function resetSupervision(paths: DaemonPaths): Promise<void> {
  const state = await readUpdaterState(paths);
  if (state.gaveUp || state.consecutiveFailures || state.nextRestartAt) {
    await patchUpdaterState(paths, {
      gaveUp: false,
      consecutiveFailures: 0,
      nextRestartAt: undefined,
      backoffSeconds: 0,
    });
  }
}
