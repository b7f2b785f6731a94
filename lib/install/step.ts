/**
 * What every install step shares: the `INSTALL_FAILED` error shape and
 * running a helper program (`tar`, the new binary's `--version`) within a
 * bound. Touches no files itself.
 *
 * @module
 */
import { runBounded as runCommand } from "../process/bounded_command.ts";
import { CodexdError, describeError } from "../errors.ts";

/**
 * The stages of an install and of what follows it, in order, reported to a
 * caller's `onStage` (the CLI prints one line per stage on a non-terminal
 * stderr): `resolving` the version, `downloading` the tarball, `extracting`
 * it, `verifying` the new binary, `switching` `current` to it; `installing`
 * while install.sh runs; then `restarting` or `starting` the app-server.
 */
export type InstallStage =
  | "resolving"
  | "downloading"
  | "extracting"
  | "verifying"
  | "switching"
  | "installing"
  | "restarting"
  | "starting";

/** Where an install reports its stages (`detail`: the version or source, when known). */
export type StageListener = (stage: InstallStage, detail?: string) => void;

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

/**
 * Runs a helper to completion within `timeoutMs` (killed on expiry or when
 * `interrupt` aborts); a spawn failure, timeout or interrupt is an
 * unsuccessful run.
 */
export async function runBounded(
  path: string,
  args: string[],
  timeoutMs: number,
  interrupt?: AbortSignal,
): Promise<StepRun> {
  // Not detached: stopping the updater's process group must stop its install too.
  const run = await runCommand(path, args, { timeoutMs, signal: interrupt, detached: false });
  return {
    success: run.success,
    stdout: run.stdout,
    stderr: run.timedOut
      ? `timed out after ${timeoutMs} ms`
      : run.interrupted
      ? "interrupted"
      : run.stderr,
  };
}

/**
 * The error of an install stopped by SIGINT/SIGTERM (the CLI aborts the
 * signal it passes in): its work files are gone and nothing changed.
 */
export function interrupted(signal: AbortSignal, hint = "codexd update"): CodexdError {
  const reason = typeof signal.reason === "string" ? ` by ${signal.reason}` : "";
  return new CodexdError(
    "INTERRUPTED",
    `Install interrupted${reason}; its work files were removed and nothing changed`,
    hint,
  );
}
