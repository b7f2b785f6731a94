/**
 * `daemon.lock`: the exclusive lock every mutating command holds for its whole
 * critical section, so concurrent `start`/`stop`/`restart`/… on one CODEX_HOME
 * run one after another. The holder writes its pid into the file so a waiter
 * that gives up can name who is wedged. Waits are always bounded.
 *
 * The lock is a `flock` on an open file: the kernel drops it when the holder
 * dies, even by SIGKILL, so a crashed command never leaves it held.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { openNoFollowSync, readStateFileSync } from "./atomic_file.ts";
import { fsError } from "./fs_errors.ts";
import { CodexdError } from "../errors.ts";
import { takeListing } from "./listing.ts";
import { dirname } from "@std/path/posix/dirname";

/** Default bound on waiting for the lock (the reference uses 75 s). */
export const LOCK_TIMEOUT_MS = 75_000;
/** How often a waiter retries; short because lock holders are quick. */
export const LOCK_POLL_MS = 5;

/** A held lock; releasing it (or exiting) lets the next waiter in. */
export interface DaemonLock extends AsyncDisposable {
  /** Releases the lock. Idempotent. */
  release(): Promise<void>;
}

/** Options for {@linkcode acquireDaemonLock}. */
export interface LockOptions {
  /** @default {LOCK_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @default {LOCK_POLL_MS} */
  pollMs?: number;
  /** @default {systemClock} */
  clock?: Clock;
}

interface HolderNote {
  pid: number;
  since: number;
}

/**
 * Opens the lock file without ever following a symlink (the one no-follow
 * opener, `openNoFollowSync`): a planted `daemon.lock -> /etc/something` must
 * not make a root-run codexd truncate and write the file it points to.
 */
function openLockNoFollow(lockFile: string): Deno.FsFile {
  const file = openNoFollowSync(lockFile, { label: "daemon lock" });
  const info = file.statSync();
  if ((info.mode ?? 0) & 0o077 && info.uid === Deno.uid()) {
    // An older codexd left it 0644: every file codexd owns is 0600.
    Deno.chmodSync(lockFile, 0o600);
  }
  return file;
}

// The lock's file operations are synchronous: each is one tiny syscall, and
// sync ops avoid ~1 ms of async machinery per CLI call (measured).
function openLockFile(lockFile: string): Deno.FsFile {
  try {
    try {
      return openLockNoFollow(lockFile);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // The state directory does not exist yet (first command on this home).
      Deno.mkdirSync(dirname(lockFile), {
        recursive: true,
        mode: 0o700,
      });
      return openLockNoFollow(lockFile);
    }
  } catch (error) {
    throw fsError(error, lockFile, "write");
  }
}

/**
 * Notes are written padded to one width over whatever was there, so no
 * truncate is needed (one op less on every locked command); JSON ignores the
 * trailing blanks.
 */
const NOTE_WIDTH = 79;

function noteHolder(file: Deno.FsFile, now: number): void {
  const note: HolderNote = { pid: Deno.pid, since: now };
  try {
    file.writeSync(new TextEncoder().encode(JSON.stringify(note).padEnd(NOTE_WIDTH) + "\n"));
  } catch {
    // Only a courtesy for waiters (who holds it); on a full disk the lock
    // itself still works and `stop` must still get through.
  }
}

/** Lock files this process holds now (the turn-safety gate checks it). */
const heldHere = new Set<string>();

/** Whether this process holds `daemon.lock` at `lockFile` right now. */
export function holdsDaemonLock(lockFile: string): boolean {
  return heldHere.has(lockFile);
}

function heldLock(file: Deno.FsFile, lockFile: string): DaemonLock {
  let released = false;
  heldHere.add(lockFile);
  // What is in the state dir, for "is it there?" without a failed stat while the lock is held.
  const forgetListing = takeListing(dirname(lockFile));
  const release = (): Promise<void> => {
    if (released) return Promise.resolve();
    released = true;
    forgetListing();
    heldHere.delete(lockFile);
    try {
      file.unlockSync();
    } finally {
      file.close();
    }
    return Promise.resolve();
  };
  return { release, [Symbol.asyncDispose]: release };
}

/** Reads the pid the current holder wrote, if any. */
export function readLockHolder(
  lockFile: string,
): Promise<HolderNote | undefined> {
  try {
    const note = JSON.parse(readStateFileSync(lockFile) ?? "") as HolderNote;
    return Promise.resolve(Number.isSafeInteger(note.pid) ? note : undefined);
  } catch {
    return Promise.resolve(undefined);
  }
}

/** Takes the lock if it is free right now; `undefined` when someone holds it. */
export function tryAcquireDaemonLock(
  lockFile: string,
  clock: Clock = systemClock,
): Promise<DaemonLock | undefined> {
  return Promise.resolve(tryLockNow(lockFile, clock));
}

function tryLockNow(lockFile: string, clock: Clock): DaemonLock | undefined {
  const file = openLockFile(lockFile);
  if (!file.tryLockSync(true)) {
    file.close();
    return undefined;
  }
  noteHolder(file, clock.now());
  return heldLock(file, lockFile);
}

/**
 * Waits (bounded) for the exclusive lock.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT`, naming the holder's pid.
 */
export async function acquireDaemonLock(
  lockFile: string,
  options: LockOptions = {},
): Promise<DaemonLock> {
  const {
    timeoutMs = LOCK_TIMEOUT_MS,
    pollMs = LOCK_POLL_MS,
    clock = systemClock,
  } = options;
  const file = openLockFile(lockFile);
  const deadline = clock.now() + timeoutMs;
  try {
    while (!file.tryLockSync(true)) {
      if (clock.now() >= deadline) {
        const holder = await readLockHolder(lockFile);
        const who = holder
          ? `held by pid ${holder.pid} for ${Math.round((clock.now() - holder.since) / 1000)} s`
          : "held by another process";
        throw new CodexdError(
          "LOCK_TIMEOUT",
          `Cannot acquire daemon lock ${lockFile}: ${who}`,
          holder ? `kill ${holder.pid}` : undefined,
        );
      }
      await clock.sleep(pollMs);
    }
    noteHolder(file, clock.now());
  } catch (error) {
    file.close();
    throw error;
  }
  return heldLock(file, lockFile);
}
