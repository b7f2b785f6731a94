/**
 * Running a helper process with a time limit. Every child codexd waits for
 * goes through {@linkcode runBounded} — `codex --version` and `app-server
 * --help`, the installers' `tar` and release check, autostart's `systemctl`,
 * `loginctl` and `launchctl`: a binary that hangs (a wedged NFS mount, a
 * broken release, a stuck bus) must not hang `start` while it holds
 * `daemon.lock`, nor block the updater's pass. By default the child runs in
 * its own process group (`detached`), so on expiry the whole group is killed,
 * grandchildren included.
 *
 * Touches no files. Its deadlines are {@linkcode expiry}s, cancelled once the
 * child is done: a pending timer would keep a library caller's script alive
 * for the whole bound after its last line.
 *
 * @module
 */
import { expiry } from "../expiry.ts";

/** Default bound on one helper command (`--version`, `--help`): a few seconds. */
export const COMMAND_TIMEOUT_MS = 5_000;
/** Environment variable that overrides {@linkcode COMMAND_TIMEOUT_MS} (a testing seam). */
export const COMMAND_TIMEOUT_ENV = "CODEXD_COMMAND_TIMEOUT_MS";
/** How long to wait for a killed group's pipes to close before giving up on them. */
export const KILL_DRAIN_MS = 1_000;

/** What a bounded helper command did. */
export interface BoundedRun {
  /** Exit code 0 (never true when it timed out or was interrupted). */
  success: boolean;
  /** Its exit code; -1 when it could not run, timed out or was interrupted. */
  code: number;
  /** Its stdout (what arrived before the time limit). */
  stdout: string;
  /** Its stderr, or the spawn error. */
  stderr: string;
  /** It was still running at the time limit and its process group was killed. */
  timedOut: boolean;
  /** `signal` aborted while it ran, and it was killed. */
  interrupted: boolean;
}

/** Options for {@linkcode runBounded}. */
export interface BoundedOptions {
  /** @default {commandTimeoutMs()} */
  timeoutMs?: number;
  /** Environment added to the inherited one. */
  env?: Record<string, string>;
  /** Kills the child when aborted (an interrupted install). */
  signal?: AbortSignal;
  /**
   * Its own process group, killed whole on expiry. `false` keeps it in
   * codexd's group, so stopping the updater's group stops it too.
   * @default {true}
   */
  detached?: boolean;
}

/** The configured helper-command bound: `$CODEXD_COMMAND_TIMEOUT_MS`, else {@linkcode COMMAND_TIMEOUT_MS}. */
export function commandTimeoutMs(): number {
  const raw = Deno.env.get(COMMAND_TIMEOUT_ENV);
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : COMMAND_TIMEOUT_MS;
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(all);
}

function kill(pid: number, group: boolean): void {
  try {
    Deno.kill(group ? -pid : pid, "SIGKILL");
  } catch {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Resolves when `signal` aborts (never without one). */
function aborted(signal: AbortSignal | undefined): Promise<"interrupted"> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve("interrupted");
    signal?.addEventListener("abort", () => resolve("interrupted"), { once: true });
  });
}

/**
 * Runs `path args…` to completion within the time limit; a spawn failure is
 * an unsuccessful run, not a throw. On expiry (or when `signal` aborts) the
 * child — its process group, when detached — is SIGKILLed and reaped.
 */
export async function runBounded(
  path: string,
  args: string[],
  options: BoundedOptions = {},
): Promise<BoundedRun> {
  const { timeoutMs = commandTimeoutMs(), env, signal, detached = true } = options;
  const failed = { success: false, code: -1, stdout: "", timedOut: false, interrupted: false };
  if (signal?.aborted) return { ...failed, stderr: "interrupted", interrupted: true };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached,
    }).spawn();
  } catch (error) {
    return { ...failed, stderr: String(error) };
  }
  const output = Promise.all([drain(child.stdout), drain(child.stderr), child.status]);
  const deadline = expiry(timeoutMs);
  const outcome = await Promise.race([output, deadline.expired, aborted(signal)]);
  deadline.cancel();
  if (typeof outcome !== "string") {
    const [stdout, stderr, status] = outcome;
    return { ...failed, success: status.success, code: status.code, stdout, stderr };
  }
  kill(child.pid, detached);
  // Reap it; a grandchild that escaped the group could hold the pipes open,
  // so this wait is bounded too.
  const drainDeadline = expiry(KILL_DRAIN_MS);
  const drained = await Promise.race([output, drainDeadline.expired]);
  drainDeadline.cancel();
  const [stdout, stderr] = drained === "expired" ? ["", ""] : drained;
  if (drained === "expired") {
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    child.unref();
  }
  return {
    ...failed,
    stdout,
    stderr,
    timedOut: outcome === "expired",
    interrupted: outcome === "interrupted",
  };
}
