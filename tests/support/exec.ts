/**
 * The one bounded command runner of the test harnesses (sshd, nspawn boxes,
 * throwaway users, the Ansible fleet): a helper that hangs (`ssh` to a box
 * that never answers, a wedged `useradd`) is SIGKILLed at its bound, so a
 * harness fails instead of wedging the suite. Its output is decoded; a
 * non-zero exit is returned, not thrown ({@linkcode mustExec} throws).
 *
 * codexd's own runner (`lib/process/bounded_command.ts`) is not used here on
 * purpose: the harnesses need `cwd` and a cleared environment, and a test of
 * that runner must not depend on it to set itself up.
 *
 * @module
 */

/** Default bound of one harness command. */
export const EXEC_TIMEOUT_MS = 120_000;

/** Options of {@linkcode exec}. */
export interface ExecOptions {
  /** Working directory. */
  cwd?: string;
  /** Environment added to the inherited one (the only one with `clearEnv`). */
  env?: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** SIGKILL it past this long. @default {EXEC_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Run it in its own process group and kill the whole group at the bound. */
  group?: boolean;
}

/** What a harness command did. */
export interface ExecResult {
  /** Exit code 0 within the bound. */
  success: boolean;
  /** Its exit code (a killed command's, by the signal). */
  code: number;
  /** Its decoded stdout. */
  stdout: string;
  /** Its decoded stderr. */
  stderr: string;
  /** It was still running at the bound and was killed. */
  timedOut: boolean;
}

/** Runs `cmd args…` with stdin on /dev/null to its end or its bound. A missing `cmd` throws. */
export async function exec(
  cmd: string,
  args: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: options.group ?? false,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (options.group) Deno.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? EXEC_TIMEOUT_MS);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      success: out.success && !timedOut,
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** {@linkcode exec}, throwing with the command and its output unless it succeeded; returns its stdout. */
export async function mustExec(
  cmd: string,
  args: string[],
  options: ExecOptions = {},
): Promise<string> {
  const out = await exec(cmd, args, options);
  if (!out.success) {
    const why = out.timedOut ? "killed at its bound" : `exit ${out.code}`;
    throw new Error(`${cmd} ${args.join(" ")}: ${why}: ${out.stderr}${out.stdout}`);
  }
  return out.stdout;
}
