/**
 * Where codexd's files live under one CODEX_HOME. Every other module takes a
 * {@linkcode DaemonPaths} instead of joining paths itself, so the file layout
 * documented in SPEC "Files" is written down exactly once.
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import { dirname as posixDirname } from "@std/path/posix/dirname";
import { isAbsolute } from "@std/path/posix/is-absolute";
import { join as posixJoin } from "@std/path/posix/join";

/** Name of the state directory under CODEX_HOME. */
export const STATE_DIR_NAME = "app-server-daemon";

/** Absolute paths of every file codexd reads or writes for one CODEX_HOME. */
export interface DaemonPaths {
  /** The CODEX_HOME directory itself. */
  codexHome: string;
  /** `app-server-daemon/`, mode 0700. */
  stateDir: string;
  /** `app-server-daemon/settings.json`. */
  settingsFile: string;
  /** `app-server-daemon/app-server.pid`. */
  pidFile: string;
  /**
   * `app-server-daemon/daemon.pid`: the reference's server record in its package layout (codex ≥ 0.169);
   * codexd writes it only on a home in that layout (see `home_layout.ts`).
   */
  referencePidFile: string;
  /** `app-server-daemon/app-server-updater.pid`. */
  updaterPidFile: string;
  /** `app-server-daemon/daemon-updater.pid`: the reference's updater record. */
  referenceUpdaterPidFile: string;
  /** `app-server-daemon/loaded-threads.json`: the app-server's thread-restore snapshot. */
  loadedThreadsFile: string;
  /** `app-server-daemon/daemon.lock`. */
  lockFile: string;
  /** `app-server-daemon/app-server.stderr.log`. */
  logFile: string;
  /** `app-server-daemon/daemon.stderr.log`: the server's log in the reference's package layout. */
  referenceLogFile: string;
  /** `app-server-daemon/daemon-updater.stderr.log`: the reference's updater log. */
  referenceUpdaterLogFile: string;
  /** `app-server-daemon/app-server-updater.log`. */
  updaterLogFile: string;
  /** `app-server-daemon/updater-state.json`: last pass and supervision state. */
  updaterStateFile: string;
  /** `app-server-daemon/pending-restart.json`: a restart waiting for running turns (see `idle/pending.ts`). */
  pendingRestartFile: string;
  /** `app-server-daemon/managed-binary.json`: cached `--version` and launch flags. */
  binaryCacheFile: string;
  /** `app-server-control/app-server-control.sock`, created by the app-server. */
  socketPath: string;
  /** `packages/standalone`: the install.sh layout root. */
  standaloneDir: string;
  /** `packages/app-server-daemon/current/bin/codex`: the reference's own package (codex ≥ 0.169). */
  referencePackageBinary: string;
}

/**
 * Resolves CODEX_HOME: the explicit option, else `$CODEX_HOME`, else
 * `~/.codex`; absolute and normalised ({@linkcode normalizePath}), once, for
 * every command: systemd ignores a `PIDFile=` that is not normalised, and two
 * spellings of one home must not look like two homes.
 *
 * @throws {CodexdError} `USAGE` for an explicit empty home (`--codex-home ''`
 * must not silently mean `~/.codex`).
 */
export function resolveCodexHome(explicit?: string): string {
  if (explicit === "") {
    throw new CodexdError(
      "USAGE",
      "Cannot use an empty CODEX_HOME (--codex-home '')",
      "pass a directory: --codex-home DIR (or leave it out for $CODEX_HOME, else ~/.codex)",
    );
  }
  const chosen = explicit ?? Deno.env.get("CODEX_HOME");
  if (chosen !== undefined && chosen !== "") {
    return normalizePath(isAbsolute(chosen) ? chosen : join(Deno.cwd(), chosen));
  }
  const home = Deno.env.get("HOME");
  if (home === undefined || home === "") {
    throw new Error("Cannot resolve CODEX_HOME: neither CODEX_HOME nor HOME is set");
  }
  return normalizePath(`${home}/.codex`);
}

/**
 * An absolute path with `.` and `..` segments resolved lexically (no
 * symlinks followed, as `realpath -s`), doubled and trailing slashes
 * removed. Pure; tested by a table.
 */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return `/${parts.join("/")}`;
}

/**
 * Computes every path codexd uses under `codexHome` (absolute and normalised,
 * as {@linkcode resolveCodexHome} returns it). Plain concatenation, not
 * `@std/path`'s `join`: these ~20 names run on every command, and `join`'s
 * normalising pass cost ~2.5 ms on that first call (measured with
 * `bench/profile.ts version`), a tenth of Deno's start-up; the names joined
 * here are fixed and hold no `.` or `..` segments.
 */
export function daemonPaths(codexHome: string): DaemonPaths {
  const home = codexHome.endsWith("/") ? codexHome.slice(0, -1) : codexHome;
  const stateDir = `${home}/${STATE_DIR_NAME}`;
  return {
    codexHome,
    stateDir,
    settingsFile: `${stateDir}/settings.json`,
    pidFile: `${stateDir}/app-server.pid`,
    referencePidFile: `${stateDir}/daemon.pid`,
    updaterPidFile: `${stateDir}/app-server-updater.pid`,
    referenceUpdaterPidFile: `${stateDir}/daemon-updater.pid`,
    loadedThreadsFile: `${stateDir}/loaded-threads.json`,
    lockFile: `${stateDir}/daemon.lock`,
    logFile: `${stateDir}/app-server.stderr.log`,
    referenceLogFile: `${stateDir}/daemon.stderr.log`,
    referenceUpdaterLogFile: `${stateDir}/daemon-updater.stderr.log`,
    updaterLogFile: `${stateDir}/app-server-updater.log`,
    updaterStateFile: `${stateDir}/updater-state.json`,
    pendingRestartFile: `${stateDir}/pending-restart.json`,
    binaryCacheFile: `${stateDir}/managed-binary.json`,
    socketPath: `${home}/app-server-control/app-server-control.sock`,
    standaloneDir: `${home}/packages/standalone`,
    referencePackageBinary: `${home}/packages/app-server-daemon/current/bin/codex`,
  };
}

/** Joins path segments (`@std/path`'s POSIX join: codexd runs on Unix hosts only). */
export const join: (...segments: string[]) => string = posixJoin;

/** The directory part of a path (`@std/path`'s POSIX dirname). */
export const dirname: (path: string) => string = posixDirname;

/** Creates the state directory (mode 0700) when it is missing. */
export async function ensureStateDir(paths: DaemonPaths): Promise<void> {
  try {
    await Deno.mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const { fsError } = await import("./fs_errors.ts");
    throw fsError(error, paths.stateDir, "write");
  }
}
