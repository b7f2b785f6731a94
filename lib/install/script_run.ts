/**
 * Running an installer script: `/bin/sh -s` with the script on stdin, no
 * TTY, stdout discarded (it must never reach codexd's JSON stdout), the last
 * 2 KiB of stderr kept for the error, and on expiry the shell and its
 * descendants stopped (SIGTERM, then SIGKILL after a grace) and the mkdir
 * lock `packages/standalone/install.lock.d` removed if the dead shell owned it.
 *
 * @module
 */
import { readTextIfPresent } from "../state/atomic_file.ts";
import { CodexdError } from "../errors.ts";
import { type DaemonPaths, join } from "../state/paths.ts";
import { INSTALL_LOCK_DIR } from "./lock.ts";
import { interrupted } from "./step.ts";
/** How much of the installer's stderr a failure reports (the reference's tail size). */
export const STDERR_TAIL_BYTES = 2 * 1024;
/** SIGTERM → SIGKILL grace when cancelling the installer: its trap releases the lock. */
export const CANCEL_GRACE_MS = 2_000;
/** Bound on draining stderr after the shell exits (a descendant may hold the pipe). */
export const STDERR_DRAIN_MS = 1_000;

/** Keeps the last `limit` bytes of a stream; `stop()` abandons a pipe a descendant holds open. */
function tailOf(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): { done: Promise<void>; text: () => string; stop: () => Promise<void> } {
  const reader = stream.getReader();
  let tail = new Uint8Array(0);
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const joined = new Uint8Array(tail.length + value.length);
        joined.set(tail);
        joined.set(value, tail.length);
        tail = joined.slice(Math.max(0, joined.length - limit));
      }
    } catch {
      // cancelled or broken pipe: keep what arrived
    }
  })();
  return {
    done,
    text: () => new TextDecoder().decode(tail),
    stop: async () => {
      await reader.cancel().catch(() => {});
      await done;
    },
  };
}

/** Resolves after `ms` or when `until` settles, whichever is first; clears its timer. */
async function within(ms: number, until: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([until, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/** Linux: the pids whose parent chain leads to `root` (the installer's curl, tar, …). */
function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        parents.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    return []; // no /proc (macOS): only the shell itself is signalled
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [pid, ppid] of parents) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        walk(pid);
      }
    }
  };
  walk(root);
  return found;
}

function signalAll(pids: number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // already gone: that is what we want
    }
  }
}

/**
 * Stops an installer that ran too long, as the reference cancels one: SIGTERM
 * first so its trap releases the lock, SIGKILL after a grace, and then the
 * mkdir lock is removed if the killed shell still owns it.
 */
async function cancelInstaller(
  child: Deno.ChildProcess,
  paths: DaemonPaths,
): Promise<void> {
  signalAll([child.pid, ...descendantsOf(child.pid)], "SIGTERM");
  await within(CANCEL_GRACE_MS, child.status);
  // The shell is not reaped before this, so its pid cannot have been reused.
  signalAll([child.pid, ...descendantsOf(child.pid)], "SIGKILL");
  await child.status;
  const lockDir = join(paths.standaloneDir, INSTALL_LOCK_DIR);
  const owner = await readTextIfPresent(join(lockDir, "pid")).catch(() => undefined);
  if (owner?.trim() === String(child.pid)) {
    await Deno.remove(lockDir, { recursive: true }).catch(() => {});
  }
}

/** Runs the script; resolves on success, throws INSTALL_FAILED with the stderr tail. */
export async function runScript(
  script: Uint8Array,
  env: Record<string, string>,
  paths: DaemonPaths,
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const child = new Deno.Command("/bin/sh", {
    args: ["-s"],
    env,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // stderr is read while stdin is written: a chatty script must not block on a full pipe.
  const stderr = tailOf(child.stderr, STDERR_TAIL_BYTES);
  let cancelling: Promise<void> | undefined;
  const cancel = (): void => {
    cancelling ??= cancelInstaller(child, paths);
  };
  const timer = setTimeout(cancel, timeoutMs);
  signal?.addEventListener("abort", cancel, { once: true });
  if (signal?.aborted) cancel();
  let status: Deno.CommandStatus;
  try {
    const writer = child.stdin.getWriter();
    // A script that exits early closes its stdin: the rest is not needed.
    await writer.write(script).catch(() => {});
    await writer.close().catch(() => {});
    status = await child.status;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", cancel);
  }
  const timedOut = cancelling !== undefined;
  // Let the cancellation finish its lock cleanup before reporting.
  await cancelling?.catch(() => {});
  await within(STDERR_DRAIN_MS, stderr.done);
  await stderr.stop();
  // Interrupted only when the abort stopped the script; a finished one stands.
  if (timedOut && signal?.aborted) throw interrupted(signal);
  if (status.success && !timedOut) return;
  const tail = stderr.text().trim();
  const how = timedOut
    ? `was stopped after ${
      timeoutMs < 10_000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`
    }`
    : status.signal
    ? `was killed by ${status.signal}`
    : `exited with code ${status.code}`;
  throw new CodexdError(
    "INSTALL_FAILED",
    `Cannot install codex: ${url} ${how}${tail ? `:\n${tail}` : ""}`,
    "codexd update --source npm",
  );
}
