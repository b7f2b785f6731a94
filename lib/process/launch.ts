/**
 * Spawning the app-server detached: its own session and process group, stdin
 * and stdout to /dev/null, stderr appended to the log file, and the CLI free
 * to exit. `Deno.Command` cannot point stdio at a file, so a POSIX `sh`
 * `exec`s the binary with stderr redirected; paths travel as positional
 * arguments, never interpolated into the script. After `exec` the pid is the
 * app-server's own. A parked launch ({@linkcode spawnParked}) forks the shell
 * early and lets it `exec` only when released.
 *
 * @module
 */
import { CodexdError, describeError } from "../errors.ts";
import { createPrivateLog, rotateLog } from "../state/logs.ts";

/** A spawned detached process. */
export interface SpawnedProcess {
  /** Its pid (also its process group id). */
  pid: number;
  /** Resolves when it exits, while this process is still its parent. */
  exited: Promise<Deno.CommandStatus>;
  /** Lets this process exit without waiting for the child. */
  detach(): void;
}

/** What to spawn. */
export interface SpawnSpec {
  /** Executable path. */
  command: string;
  /** Arguments. */
  args: string[];
  /** Environment added to the inherited one. */
  env: Record<string, string>;
  /** Variables removed from the inherited environment. */
  unsetEnv?: string[];
  /** File that receives stderr (appended). */
  logFile: string;
}

const LAUNCH_SCRIPT = 'log=$1; shift; exec "$@" 2>>"$log"';
/**
 * A parked launch: the shell waits for a line on its stdin before `exec`ing,
 * with stdin back on /dev/null; end of file instead (the CLI died, or gave
 * up) makes it exit without starting anything.
 */
const PARKED_LAUNCH_SCRIPT =
  'log=$1; shift; IFS= read -r go || exit 0; exec "$@" </dev/null 2>>"$log"';

/** The environment of a spawn: the inherited one, minus `unsetEnv`, plus `env`. */
function spawnEnv(spec: SpawnSpec): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of spec.unsetEnv ?? []) delete env[name];
  return Object.assign(env, spec.env);
}

function prepareLog(logFile: string): Promise<void> {
  // The shell's `2>>` would create it with the umask's mode (0644, or 0666
  // under umask 000): create it 0600 first, refusing a planted symlink.
  return rotateLog(logFile).then(() => createPrivateLog(logFile));
}

/** Starts `/bin/sh` running `script` over `spec` (see the module doc). */
function spawnShell(spec: SpawnSpec, script: string, stdin: "null" | "piped"): Deno.ChildProcess {
  try {
    return new Deno.Command("/bin/sh", {
      args: ["-c", script, "codexd-launch", spec.logFile, spec.command, ...spec.args],
      env: spawnEnv(spec),
      clearEnv: true,
      stdin,
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
  } catch (error) {
    throw new CodexdError(
      "SPAWN_FAILED",
      `Cannot spawn ${spec.command}: ${describeError(error)}`,
    );
  }
}

/** A process spawned parked: started, but its command runs only once released. */
export interface ParkedProcess extends SpawnedProcess {
  /** Lets the command run (the shell `exec`s it); resolves once told. */
  release(): Promise<void>;
  /** Gives up: the shell exits without running anything, and is reaped. */
  abandon(): Promise<void>;
}

/**
 * Spawns `spec` parked: the shell is forked and started now, the command
 * `exec`d only on {@linkcode ParkedProcess.release}. A restart parks the new
 * app-server while the old one exits, so the fork, the shell's start and
 * Deno's process API (~4 ms in all, measured) are off the path from the old
 * server's exit to the new one's start. Nothing of the app-server runs
 * before the release: two never overlap on one home.
 *
 * @throws {CodexdError} `SPAWN_FAILED` when the process cannot be created.
 */
export async function spawnParked(spec: SpawnSpec): Promise<ParkedProcess> {
  await prepareLog(spec.logFile);
  const child = spawnShell(spec, PARKED_LAUNCH_SCRIPT, "piped");
  const writer = child.stdin.getWriter();
  const tell = async (line: Uint8Array): Promise<void> => {
    try {
      if (line.length) await writer.write(line);
      await writer.close();
    } catch {
      // the shell is gone already: waitUntilReady sees it exit
    }
  };
  return {
    pid: child.pid,
    exited: child.status,
    detach: () => child.unref(),
    release: () => tell(new Uint8Array([10])),
    abandon: async () => {
      await tell(new Uint8Array());
      await child.status.catch(() => {});
    },
  };
}

/**
 * Spawns `spec` detached (see the module doc).
 *
 * @throws {CodexdError} `SPAWN_FAILED` when the process cannot be created.
 */
export async function spawnDetached(spec: SpawnSpec): Promise<SpawnedProcess> {
  await prepareLog(spec.logFile);
  const child = spawnShell(spec, LAUNCH_SCRIPT, "null");
  return { pid: child.pid, exited: child.status, detach: () => child.unref() };
}
