/**
 * Bounded helper processes for autostart (`systemctl`, `loginctl`,
 * `launchctl`): every run has a deadline, and a helper still running at the
 * deadline is killed (SIGKILL) and reaped, so a wedged bus never wedges
 * codexd. A spawn failure is a failed run, not a throw. The running itself is
 * `process/bounded_command.ts`'s; this file only shapes it for autostart's messages.
 *
 * @module
 */
import { runBounded } from "../process/bounded_command.ts";

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

/** Runs `path args` to completion or to its deadline (through codexd's one bounded runner). */
export async function runHelper(
  path: string,
  args: string[],
  options: HelperOptions = {},
): Promise<HelperRun> {
  const { timeoutMs = HELPER_TIMEOUT_MS, env } = options;
  const run = await runBounded(path, args, { timeoutMs, env });
  return {
    success: run.success,
    code: run.code,
    stdout: run.stdout,
    stderr: run.timedOut ? `${run.stderr}killed after ${timeoutMs} ms`.trim() : run.stderr,
    timedOut: run.timedOut,
  };
}

/** A helper's complaint on one line, for messages. */
export function helperError(run: HelperRun): string {
  const text = (run.stderr.trim() || run.stdout.trim()).split("\n").filter(Boolean);
  return text.length ? text.join(" ").slice(0, 500) : `exit code ${run.code}`;
}
