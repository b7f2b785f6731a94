/**
 * Stopping a recorded process: SIGTERM to its process group, a bounded wait,
 * then SIGKILL — and never a signal to a pid whose identity no longer matches
 * the record (pid reuse). A signal that finds no process counts as success.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { CodexdError } from "./errors.ts";
import { isRecordAlive, type PidRecord } from "./pid_record.ts";
import { processUid } from "./process_identity.ts";

/**
 * How often a stop checks whether the process has exited: a read of
 * `/proc/<pid>/stat` (~20 µs) every millisecond keeps the next spawn close
 * behind the exit.
 */
export const STOP_POLL_MS = 1;
/** How long to wait for the kernel after SIGKILL before giving up. */
export const KILL_WAIT_MS = 5_000;

/** Options for {@linkcode terminateRecorded}. */
export interface TerminateOptions {
  /** Grace between SIGTERM and SIGKILL. */
  graceMs: number;
  /** @default {STOP_POLL_MS} */
  pollMs?: number;
  /** @default {KILL_WAIT_MS} */
  killWaitMs?: number;
  /** @default {systemClock} */
  clock?: Clock;
  /**
   * The uids whose processes may be signalled (codexd's own, and the
   * CODEX_HOME owner's). A record naming anyone else's process — forged, or
   * copied with its boot id and start ticks — is never signalled.
   * @default {[Deno.uid()]}
   */
  allowedUids?: number[];
}

/** How the process ended. */
export type TerminateOutcome = "exited" | "killed" | "alreadyGone";

function notOwner(pid: number, why: string): CodexdError {
  return new CodexdError(
    "NOT_OWNER",
    `Cannot signal pid ${pid}: ${why}; codexd signals only its own processes`,
    `check pid ${pid} (ps -o user,pid,args -p ${pid}) and remove the stale pid record`,
  );
}

/**
 * Loads Deno's process API ahead of use. The first touch of `Deno.kill` (or
 * `Deno.Command`) loads Deno's process module: ~2.3 ms of one-off work in a
 * fresh process (measured, Deno 2.9). A stop or restart does it while its
 * turn-count probe waits on the app-server, so the work overlaps the wait
 * instead of delaying the SIGTERM.
 */
export function warmProcessApi(): void {
  void Deno.kill;
}

/**
 * Sends `signal` to the process group led by `pid` (the daemon runs in its
 * own session, so its children go too), falling back to the pid alone. A
 * process that is gone counts as success.
 *
 * @throws {CodexdError} `NOT_OWNER` when the kernel refuses (EPERM): the
 * process belongs to another user.
 */
export function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
    return;
  } catch {
    // Not a group leader (or the group is gone): signal the pid itself.
  }
  try {
    Deno.kill(pid, signal);
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw notOwner(pid, "permission denied (EPERM): it belongs to another user");
    }
    // Already gone: success.
  }
}

/**
 * Refuses a live process whose uid is not allowed.
 *
 * @throws {CodexdError} `NOT_OWNER`.
 */
export function assertSignallable(pid: number, allowedUids: number[]): void {
  const uid = processUid(pid);
  if (uid !== undefined && !allowedUids.includes(uid)) {
    throw notOwner(pid, `it runs as uid ${uid}, not as ${allowedUids.join(" or ")}`);
  }
}

async function waitForExit(
  record: PidRecord,
  waitMs: number,
  pollMs: number,
  clock: Clock,
): Promise<boolean> {
  const deadline = clock.now() + waitMs;
  while (isRecordAlive(record)) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(pollMs);
  }
  return true;
}

/**
 * Stops the process a verified record names.
 *
 * @throws {CodexdError} `STOP_TIMEOUT` when it survives even SIGKILL.
 */
export async function terminateRecorded(
  record: PidRecord,
  options: TerminateOptions,
): Promise<TerminateOutcome> {
  const {
    graceMs,
    pollMs = STOP_POLL_MS,
    killWaitMs = KILL_WAIT_MS,
    clock = systemClock,
    allowedUids = [Deno.uid() ?? -1],
  } = options;
  if (!isRecordAlive(record)) return "alreadyGone";
  assertSignallable(record.pid, allowedUids);
  signalGroup(record.pid, "SIGTERM");
  if (await waitForExit(record, graceMs, pollMs, clock)) return "exited";
  // Re-check identity right before the SIGKILL: never kill a stranger.
  if (!isRecordAlive(record)) return "exited";
  signalGroup(record.pid, "SIGKILL");
  if (await waitForExit(record, killWaitMs, pollMs, clock)) return "killed";
  throw new CodexdError(
    "STOP_TIMEOUT",
    `Cannot stop pid ${record.pid}: still alive ${killWaitMs} ms after SIGKILL`,
  );
}
