/**
 * Autostart's systemd I/O: is a user manager reachable, `systemctl --user`
 * and `loginctl enable-linger`, each bounded and killed at its deadline.
 * `XDG_RUNTIME_DIR` is set to `/run/user/UID` for these calls where the
 * session lacks it (su, sudo, some SSH setups), since `systemctl --user`
 * finds the manager through it.
 *
 * Touches: nothing itself; `systemctl --user enable/disable` make and remove
 * the `default.target.wants/` link, `loginctl` the linger flag.
 *
 * @module
 */
import { pathExists } from "../state/atomic_file.ts";
import { CodexdError } from "../errors.ts";
import { helperError, type HelperRun, runHelper } from "./exec.ts";
import { LINGER_DIR, lingerEnabled } from "../process/linger.ts";

/** Bound of one quick `systemctl --user` call (daemon-reload, enable, is-active…). */
export const SYSTEMCTL_TIMEOUT_MS = 30_000;
/** Bound of `systemctl --user start/stop/reload`, which wait for the unit's own commands. */
export const SYSTEMCTL_JOB_TIMEOUT_MS = 180_000;
/** Bound of `loginctl enable-linger` (polkit may be slow to answer). */
export const LOGINCTL_TIMEOUT_MS = 20_000;

/** Where systemd's tools live; Debian has them in /usr/bin, older layouts in /bin. */
const TOOL_DIRS = ["/usr/bin", "/bin"];

/** The facts that decide whether a systemd user manager can exist here. */
export interface SystemdFacts {
  /** `/run/systemd/system` exists: the machine was booted by systemd. */
  booted: boolean;
  /** The path of `systemctl`, if installed. */
  systemctl?: string;
  /** `/proc/1/comm`: what PID 1 is. */
  pid1?: string;
  /** WSL (`/proc/version` mentions Microsoft). */
  wsl: boolean;
  /** A container (`/.dockerenv`, `/run/.containerenv`, or `$container`). */
  container: boolean;
}

/** Why autostart cannot work here, as a message and a hint; `undefined` when it can. */
export function diagnoseSystemd(
  facts: SystemdFacts,
): { message: string; hint: string } | undefined {
  if (facts.booted && facts.systemctl) return undefined;
  const what = !facts.booted
    ? `this machine was not booted by systemd (PID 1 is ${
      facts.pid1 ? `"${facts.pid1}"` : "unknown"
    }, /run/systemd/system is missing)`
    : "systemctl is not installed";
  const hint = facts.wsl
    ? "enable systemd in WSL: add [boot] systemd=true to /etc/wsl.conf, run `wsl --shutdown`, reopen; or run `codexd bootstrap` from your own startup script"
    : facts.container
    ? "in a container, start codexd from its entrypoint instead: codexd bootstrap"
    : !facts.booted
    ? "start codexd from your init system or a @reboot cron job: codexd bootstrap"
    : "install systemd (apt-get install systemd), or start codexd from your own startup script: codexd bootstrap";
  return {
    message: `Cannot enable autostart: no systemd user manager: ${what}`,
    hint,
  };
}

/** Reads the {@linkcode SystemdFacts} of this machine. */
export function readSystemdFacts(): SystemdFacts {
  let pid1: string | undefined;
  let version = "";
  try {
    pid1 = Deno.readTextFileSync("/proc/1/comm").trim();
  } catch {
    // no /proc (or hidden): unknown
  }
  try {
    version = Deno.readTextFileSync("/proc/version");
  } catch {
    // not Linux
  }
  return {
    booted: pathExists("/run/systemd/system"),
    systemctl: TOOL_DIRS.map((dir) => `${dir}/systemctl`).find((path) => pathExists(path)),
    pid1,
    wsl: /microsoft/i.test(version),
    container: pathExists("/.dockerenv") || pathExists("/run/.containerenv") ||
      Deno.env.get("container") !== undefined,
  };
}

/** The environment of `systemctl --user`: `XDG_RUNTIME_DIR` filled in when unset. */
export function systemctlEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  uid: number = Deno.uid() ?? 0,
): Record<string, string> {
  return env.XDG_RUNTIME_DIR ? {} : { XDG_RUNTIME_DIR: `/run/user/${uid}` };
}

/** Options of the systemd calls. */
export interface SystemdOptions {
  /** Bound of a quick `systemctl --user` call. @default {SYSTEMCTL_TIMEOUT_MS} */
  systemctlTimeoutMs?: number;
  /** Bound of `systemctl --user start/reload/disable --now`. @default {SYSTEMCTL_JOB_TIMEOUT_MS} */
  jobTimeoutMs?: number;
  /** Bound of `loginctl enable-linger`. @default {LOGINCTL_TIMEOUT_MS} */
  loginctlTimeoutMs?: number;
  /** Facts to use instead of reading the machine (tests). */
  facts?: SystemdFacts;
}

/** A `systemctl --user` client for one machine. */
export interface UserManager {
  /** Runs `systemctl --user args` (bounded by the quick or the job timeout). */
  systemctl(args: string[], job?: boolean): Promise<HelperRun>;
}

/**
 * Connects to the user's systemd manager, proving it answers.
 *
 * @throws {CodexdError} `AUTOSTART_UNAVAILABLE` naming what is missing.
 */
export async function connectUserManager(options: SystemdOptions = {}): Promise<UserManager> {
  const facts = options.facts ?? readSystemdFacts();
  const problem = diagnoseSystemd(facts);
  if (problem) throw new CodexdError("AUTOSTART_UNAVAILABLE", problem.message, problem.hint);
  const systemctl = facts.systemctl!;
  const env = systemctlEnv();
  const manager: UserManager = {
    systemctl: (args, job = false) =>
      runHelper(systemctl, ["--user", ...args], {
        env,
        timeoutMs: job
          ? options.jobTimeoutMs ?? SYSTEMCTL_JOB_TIMEOUT_MS
          : options.systemctlTimeoutMs ?? SYSTEMCTL_TIMEOUT_MS,
      }),
  };
  const probe = await manager.systemctl(["show", "--property=Version"]);
  if (!probe.success) {
    const runtime = env.XDG_RUNTIME_DIR ?? Deno.env.get("XDG_RUNTIME_DIR");
    throw new CodexdError(
      "AUTOSTART_UNAVAILABLE",
      `Cannot enable autostart: the systemd user manager does not answer (${helperError(probe)})`,
      runtime && !pathExists(runtime)
        ? `${runtime} is missing: no user manager runs; sudo loginctl enable-linger ${
          Deno.env.get("USER") ?? "$USER"
        }, then retry`
        : "log in once so the user manager starts (or: sudo loginctl enable-linger $USER), then retry",
    );
  }
  return manager;
}

/** What {@linkcode ensureLinger} found or did. */
export interface LingerOutcome {
  /** Whether the user manager now runs without a login. */
  linger: boolean;
  /** Why it does not, with the fix. */
  warning?: string;
}

/**
 * Makes logind keep the user manager running without a login (so units
 * start at boot): nothing when the flag is there, else `loginctl
 * enable-linger`, which needs polkit (or root). Refusal is a warning.
 */
export async function ensureLinger(
  user: string,
  options: SystemdOptions & { lingerDir?: string } = {},
): Promise<LingerOutcome> {
  const lingerDir = options.lingerDir ?? LINGER_DIR;
  if (lingerEnabled(user, lingerDir)) return { linger: true };
  const loginctl = TOOL_DIRS.map((dir) => `${dir}/loginctl`).find((path) => pathExists(path));
  const run = loginctl
    ? await runHelper(loginctl, ["enable-linger", user], {
      timeoutMs: options.loginctlTimeoutMs ?? LOGINCTL_TIMEOUT_MS,
    })
    : undefined;
  if (run?.success && lingerEnabled(user, lingerDir)) return { linger: true };
  const why = run ? helperError(run) : "loginctl is not installed";
  return {
    linger: false,
    warning: `Cannot enable lingering for ${user} (${why}): the app-server will start at boot ` +
      `only after ${user} logs in. Fix: sudo loginctl enable-linger ${user}`,
  };
}
