/**
 * What every install step shares: the `INSTALL_FAILED` error shape and
 * running a helper program (`tar`, the new binary's `--version`) within a
 * bound. Touches no files itself.
 *
 * @module
 */
import { CodexdError, describeError } from "../errors.ts";

/** Bound on `tar` and on the new binary's `--version`. */
export const INSTALL_STEP_TIMEOUT_MS = 5 * 60_000;

/** The error of a failed install step: nothing changed, `codexd update` retries. */
export function installFailed(what: string, error?: unknown): CodexdError {
  return new CodexdError(
    "INSTALL_FAILED",
    error === undefined
      ? `Cannot install codex: ${what}`
      : `Cannot install codex: ${what}: ${describeError(error)}`,
    "codexd update",
  );
}

/** What {@linkcode runBounded} saw. */
export interface StepRun {
  /** Exited 0 within the bound. */
  success: boolean;
  /** Everything it printed on stdout. */
  stdout: string;
  /** Its stderr, or why it did not run to completion. */
  stderr: string;
}

/** Runs a helper to completion within `timeoutMs`; a spawn failure or timeout is an unsuccessful run. */
export async function runBounded(
  path: string,
  args: string[],
  timeoutMs: number,
): Promise<StepRun> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const out = await new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const decoder = new TextDecoder();
    const stderr = decoder.decode(out.stderr);
    return {
      success: out.success && !signal.aborted,
      stdout: decoder.decode(out.stdout),
      stderr: signal.aborted ? `timed out after ${timeoutMs} ms` : stderr,
    };
  } catch (error) {
    const why = signal.aborted ? `timed out after ${timeoutMs} ms` : describeError(error);
    return { success: false, stdout: "", stderr: why };
  }
}
