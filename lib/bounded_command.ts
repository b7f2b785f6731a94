/**
 * Running a short helper process with a time limit. Every child codexd waits
 * for (`codex --version`, `codex app-server --help`) goes through
 * {@linkcode runBounded}: a binary that hangs (a wedged NFS mount, a broken
 * release) must not hang `start` while it holds `daemon.lock`, nor block the
 * updater's pass. The child runs in its own process group (`detached`), so on
 * expiry the whole group is killed, grandchildren included.
 *
 * Touches no files.
 *
 * @module
 */

/** Default bound on one helper command (`--version`, `--help`): a few seconds. */
export const COMMAND_TIMEOUT_MS = 5_000;
/** Environment variable that overrides {@linkcode COMMAND_TIMEOUT_MS} (a testing seam). */
export const COMMAND_TIMEOUT_ENV = "CODEXD_COMMAND_TIMEOUT_MS";
/** How long to wait for a killed group's pipes to close before giving up on them. */
export const KILL_DRAIN_MS = 1_000;

/** What a bounded helper command did. */
export interface BoundedRun {
  /** Exit code 0 (never true when it timed out). */
  success: boolean;
  /** Its stdout (what arrived before the time limit). */
  stdout: string;
  /** Its stderr, or the spawn error. */
  stderr: string;
  /** It was still running at the time limit and its process group was killed. */
  timedOut: boolean;
}

/** Options for {@linkcode runBounded}. */
export interface BoundedOptions {
  /** @default {commandTimeoutMs()} */
  timeoutMs?: number;
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

function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Resolves after `ms` (an unref'd `AbortSignal.timeout`, cheap on first use). */
function after(ms: number): Promise<"expired"> {
  return new Promise((resolve) => {
    AbortSignal.timeout(ms).addEventListener("abort", () => resolve("expired"), { once: true });
  });
}

/**
 * Runs `path args…` to completion within the time limit; a spawn failure is
 * an unsuccessful run, not a throw. On expiry the child's process group is
 * SIGKILLed and reaped.
 */
export async function runBounded(
  path: string,
  args: string[],
  options: BoundedOptions = {},
): Promise<BoundedRun> {
  const { timeoutMs = commandTimeoutMs() } = options;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own process group, so a time-out kills whatever it started too.
      detached: true,
    }).spawn();
  } catch (error) {
    return { success: false, stdout: "", stderr: String(error), timedOut: false };
  }
  const output = Promise.all([drain(child.stdout), drain(child.stderr), child.status]);
  const outcome = await Promise.race([output, after(timeoutMs)]);
  if (outcome !== "expired") {
    const [stdout, stderr, status] = outcome;
    return { success: status.success, stdout, stderr, timedOut: false };
  }
  killGroup(child.pid);
  // Reap it; a grandchild that escaped the group could hold the pipes open,
  // so this wait is bounded too.
  const drained = await Promise.race([output, after(KILL_DRAIN_MS)]);
  const [stdout, stderr] = drained === "expired" ? ["", ""] : drained;
  if (drained === "expired") {
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    child.unref();
  }
  return { success: false, stdout, stderr, timedOut: true };
}
