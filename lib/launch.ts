/**
 * Spawning the app-server detached: its own session and process group, stdin
 * and stdout to /dev/null, stderr appended to the log file, and the CLI free
 * to exit. `Deno.Command` cannot point stdio at a file, so a POSIX `sh`
 * `exec`s the binary with stderr redirected; paths travel as positional
 * arguments, never interpolated into the script. After `exec` the pid is the
 * app-server's own.
 *
 * @module
 */
import { CodexdError, describeError } from "./errors.ts";
import { createPrivateLog, rotateLog } from "./logs.ts";

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

function spawnFailed(spec: SpawnSpec, error: unknown): CodexdError {
  return new CodexdError("SPAWN_FAILED", `Cannot spawn ${spec.command}: ${describeError(error)}`);
}

/** A spawn made ready (log rotated and created, environment built) but not started. */
export interface PreparedSpawn {
  /** What is to be spawned. */
  spec: SpawnSpec;
  /** The command, built. */
  command: Deno.Command;
}

/**
 * Everything before the spawn itself: rotates the log and creates it 0600,
 * builds the environment and the command. A restart does this while the old
 * server is still exiting.
 */
export async function prepareSpawn(spec: SpawnSpec): Promise<PreparedSpawn> {
  await rotateLog(spec.logFile);
  // The shell's `2>>` would create it with the umask's mode (0644, or 0666
  // under umask 000): create it 0600 first, refusing a planted symlink.
  createPrivateLog(spec.logFile);
  const env = Deno.env.toObject();
  for (const name of spec.unsetEnv ?? []) delete env[name];
  Object.assign(env, spec.env);
  try {
    const command = new Deno.Command("/bin/sh", {
      args: ["-c", LAUNCH_SCRIPT, "codexd-launch", spec.logFile, spec.command, ...spec.args],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    });
    return { spec, command };
  } catch (error) {
    throw spawnFailed(spec, error);
  }
}

/**
 * Spawns a prepared command.
 *
 * @throws {CodexdError} `SPAWN_FAILED` when the process cannot be created.
 */
export function spawnPrepared(prepared: PreparedSpawn): SpawnedProcess {
  let child: Deno.ChildProcess;
  try {
    child = prepared.command.spawn();
  } catch (error) {
    throw spawnFailed(prepared.spec, error);
  }
  return {
    pid: child.pid,
    exited: child.status,
    detach: () => child.unref(),
  };
}

/**
 * Spawns `spec` detached (see the module doc).
 *
 * @throws {CodexdError} `SPAWN_FAILED` when the process cannot be created.
 */
export async function spawnDetached(spec: SpawnSpec): Promise<SpawnedProcess> {
  return spawnPrepared(await prepareSpawn(spec));
}
