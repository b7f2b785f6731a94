/**
 * Stopping a recorded process: SIGTERM to its process group, a bounded wait,
 * then SIGKILL — and never a signal to a pid whose identity no longer matches
 * the record (pid reuse). A signal that finds no process counts as success.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { CodexdError } from "../errors.ts";
import { isRecordAlive, type PidRecord } from "./pid_record.ts";
import { processGroupMembers, processLaunchedFor, processUid } from "./process_identity.ts";

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
  /**
   * Root acting on a user's home: the CODEX_HOME whose processes of codexd's
   * own uid may still be signalled although that uid is not in
   * `allowedUids` — only those it launched for this home (the app-server,
   * its launcher, the updater loop, each with `CODEX_HOME=<home>` in its
   * environment, which the user cannot forge). @default {undefined}
   */
  launchedFor?: string;
}

/** Who may be signalled: {@linkcode TerminateOptions.allowedUids} and `launchedFor`. */
export type SignalScope = Pick<TerminateOptions, "allowedUids" | "launchedFor">;

/**
 * How far a signal to a verified process reaches: its whole process group,
 * or — when root signals another user's process — only the group's members
 * that are themselves signallable (a setuid-root program a user started
 * sits in the user's group; root must not kill it on the user's behalf).
 */
export type SignalReach = "group" | "members";

/** What {@linkcode decideSignal} looks at. */
export interface SignalFacts {
  /** The process's real uid; `undefined` when unreadable (gone, or not Linux: EPERM still tells). */
  uid: number | undefined;
  /** codexd's own uid. */
  self: number;
  /** The uids whose processes may be signalled. */
  allowedUids: number[];
  /** Whether it is a process codexd launched for the home (`undefined`: not asked or unreadable). */
  launchedForHome: boolean | undefined;
}

/**
 * Whether (and how far) a process may be signalled. Pure; tested by a table.
 * A process of an allowed uid may; one of codexd's own uid outside the list
 * only when codexd provably launched it for this home; nothing else.
 */
export function decideSignal(facts: SignalFacts): SignalReach | "refuse" {
  const { uid, self, allowedUids, launchedForHome } = facts;
  if (uid === undefined) return "group";
  if (allowedUids.includes(uid)) return uid === self || self !== 0 ? "group" : "members";
  if (uid === self && launchedForHome === true) return "group";
  return "refuse";
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
 * own session, so its children go too), falling back to the pid alone
 * (`groupToo: false`: the pid alone). A process that is gone counts as
 * success.
 *
 * @throws {CodexdError} `NOT_OWNER` when the kernel refuses (EPERM): the
 * process belongs to another user.
 */
export function signalGroup(
  pid: number,
  signal: Deno.Signal,
  options: { groupToo?: boolean } = {},
): void {
  if (options.groupToo !== false) {
    try {
      Deno.kill(-pid, signal);
      return;
    } catch {
      // Not a group leader (or the group is gone): signal the pid itself.
    }
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

function factsOf(pid: number, scope: SignalScope): SignalFacts {
  const self = Deno.uid() ?? -1;
  const uid = processUid(pid);
  const allowedUids = scope.allowedUids ?? [self];
  const launchedForHome = uid === self && !allowedUids.includes(uid) &&
      scope.launchedFor !== undefined
    ? processLaunchedFor(pid, scope.launchedFor)
    : undefined;
  return { uid, self, allowedUids, launchedForHome };
}

/**
 * Refuses a live process codexd may not signal; says how far a signal to it
 * may reach.
 *
 * @throws {CodexdError} `NOT_OWNER`.
 */
export function assertSignallable(pid: number, scope: SignalScope = {}): SignalReach {
  const facts = factsOf(pid, scope);
  const reach = decideSignal(facts);
  if (reach === "refuse") {
    const launched = facts.uid === facts.self && scope.launchedFor !== undefined
      ? ` (and it is no process codexd launched for ${scope.launchedFor})`
      : "";
    throw notOwner(
      pid,
      `it runs as uid ${facts.uid}, not as ${facts.allowedUids.join(" or ")}${launched}`,
    );
  }
  return reach;
}

/**
 * Sends `signal` as far as `reach` allows: the whole group led by `pid`, or
 * `pid` and only those members of its group codexd may signal.
 */
export function signalWithin(
  pid: number,
  signal: Deno.Signal,
  reach: SignalReach,
  scope: SignalScope = {},
): void {
  if (reach === "group") return signalGroup(pid, signal);
  signalGroup(pid, signal, { groupToo: false });
  for (const member of processGroupMembers(pid)) {
    if (member === pid || decideSignal(factsOf(member, scope)) === "refuse") continue;
    try {
      Deno.kill(member, signal);
    } catch {
      // gone, or refused: never more than the kernel allows
    }
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
    launchedFor,
  } = options;
  if (!isRecordAlive(record)) return "alreadyGone";
  const scope = { allowedUids, launchedFor };
  const reach = assertSignallable(record.pid, scope);
  signalWithin(record.pid, "SIGTERM", reach, scope);
  if (await waitForExit(record, graceMs, pollMs, clock)) return "exited";
  // Re-check identity right before the SIGKILL: never kill a stranger.
  if (!isRecordAlive(record)) return "exited";
  signalWithin(record.pid, "SIGKILL", reach, scope);
  if (await waitForExit(record, killWaitMs, pollMs, clock)) return "killed";
  throw new CodexdError(
    "STOP_TIMEOUT",
    `Cannot stop pid ${record.pid}: still alive ${killWaitMs} ms after SIGKILL`,
  );
}
