/**
 * Bounded helper processes for autostart (`systemctl`, `loginctl`,
 * `launchctl`): every run has a deadline, and a helper still running at the
 * deadline is killed (SIGKILL) and reaped, so a wedged bus never wedges
 * codexd. A spawn failure is a failed run, not a throw.
 *
 * @module
 */

/** Default bound of one helper command. */
export const HELPER_TIMEOUT_MS = 30_000;

/** What a bounded helper run produced. */
export interface HelperRun {
  /** Exit code 0 before the deadline. */
  success: boolean;
  /** The exit code (-1 when it could not run or was killed). */
  code: number;
  /** Its stdout. */
  stdout: string;
  /** Its stderr, the spawn error, or the timeout note. */
  stderr: string;
  /** Whether it was killed at the deadline. */
  timedOut: boolean;
}

/** Options of {@linkcode runHelper}. */
export interface HelperOptions {
  /** Kill it after this long. @default {HELPER_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Environment added to the inherited one. */
  env?: Record<string, string>;
}

/** Runs `path args` to completion or to its deadline. */
export async function runHelper(
  path: string,
  args: string[],
  options: HelperOptions = {},
): Promise<HelperRun> {
  const { timeoutMs = HELPER_TIMEOUT_MS, env } = options;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { success: false, code: -1, stdout: "", stderr: String(error), timedOut: false };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    const stderr = decoder.decode(out.stderr);
    return {
      success: out.success && !timedOut,
      code: timedOut ? -1 : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: timedOut ? `${stderr}killed after ${timeoutMs} ms`.trim() : stderr,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A helper's complaint on one line, for messages. */
export function helperError(run: HelperRun): string {
  const text = (run.stderr.trim() || run.stdout.trim()).split("\n").filter(Boolean);
  return text.length ? text.join(" ").slice(0, 500) : `exit code ${run.code}`;
}
