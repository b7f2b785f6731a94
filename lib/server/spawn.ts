/**
 * Bringing up one app-server: the launch arguments and environment, the
 * detached spawn, the pid record written right after it, and the bounded
 * wait until it answers `initialize`. A failed start leaves nothing running
 * and no record behind.
 *
 * Touches the home's layout's record and log (`app-server-daemon/{app-server.pid,
 * app-server.stderr.log}`, or `daemon.pid` and `daemon.stderr.log` on a home in
 * the reference's package layout; see `state/home_layout.ts`) and `launched-binary`
 * (what was launched, for noticing out-of-band upgrades).
 *
 * @module
 */
import { removeServerRecords, writeServerRecord } from "./server_record.ts";
import { clearStrayPackageLog, type HomeLayout, homeLayout } from "../state/home_layout.ts";
import { pathExists } from "../state/atomic_file.ts";
import type { DaemonContext } from "./context.ts";
import { probe, type ProbeInfo, probeTimeoutMs } from "../app_server/probe.ts";
import { CodexdError } from "../errors.ts";
import { codexSocketDir, socketDirProblem } from "../app_server/socket_path.ts";
import { spawnDetached, type SpawnedProcess, type SpawnSpec } from "../process/launch.ts";
import { capLogs, tailFile } from "../state/logs.ts";
import {
  type BinaryFacts,
  type ManagedBinary,
  preflightBinary,
  readBinaryFacts,
} from "./managed_binary.ts";
import { isRecordAlive, type PidRecord } from "../process/pid_record.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { signalGroup, terminateRecorded } from "../process/terminate.ts";
import { signatureNow, writeLaunchedBinary } from "../state/binary_watch.ts";

/** Default bound on waiting for a spawned app-server to answer `initialize`. */
export const START_TIMEOUT_MS = 10_000;
/** Readiness poll interval: the app-server is ready ~50 ms after spawn, so poll often. */
export const READY_POLL_MS = 2;
/** Grace given to a spawned process that failed to become ready. */
export const FAILED_START_GRACE_MS = 1_000;
/** Lines of the stderr log quoted in a `NOT_READY` error. */
export const LOG_TAIL_LINES = 12;
/** Environment variable the reference sets when remote control is disabled. */
export const REMOTE_CONTROL_DISABLED_ENV = "CODEX_INTERNAL_APP_SERVER_REMOTE_CONTROL_DISABLED";
/** The launch arguments for the app-server under `settings`. */
export function launchArgs(
  settings: DaemonSettings,
  facts: BinaryFacts,
  configArgs: string[] = [],
): string[] {
  return [
    "app-server",
    ...(settings.remoteControlEnabled ? ["--remote-control"] : []),
    "--listen",
    "unix://",
    ...facts.launchFlags,
    ...configArgs,
  ];
}

/**
 * Whether a running app-server was launched with the remote-control setting
 * `settings` asks for (read from `/proc/PID/cmdline`; unknown counts as a match).
 */
export function flagsMatch(record: PidRecord, settings: DaemonSettings): boolean {
  let argv: string[];
  try {
    argv = Deno.readTextFileSync(`/proc/${record.pid}/cmdline`).split("\0");
  } catch {
    return true;
  }
  return argv.includes("--remote-control") === settings.remoteControlEnabled;
}

/** The environment added for the app-server under `settings`. */
export function launchEnv(ctx: DaemonContext, settings: DaemonSettings): Record<string, string> {
  return {
    CODEX_HOME: ctx.paths.codexHome,
    ...(settings.remoteControlEnabled ? {} : { [REMOTE_CONTROL_DISABLED_ENV]: "1" }),
  };
}

async function notReady(
  ctx: DaemonContext,
  why: string,
  logFile: string = homeLayout(ctx.paths).logFile,
): Promise<CodexdError> {
  const tail = await tailFile(logFile, LOG_TAIL_LINES);
  const log = tail.length ? `\nLast lines of ${logFile}:\n${tail.join("\n")}` : "";
  return new CodexdError(
    "NOT_READY",
    `App-server did not become ready on ${ctx.paths.socketPath}: ${why}${log}`,
    `codexd logs`,
  );
}

/**
 * The bound on one readiness probe: the probe time-out, but never more than
 * the time left before the start deadline (a 0.05 s start time-out must not
 * wait out a 2 s probe), and at least 1 ms.
 */
export function probeBudgetMs(probeMs: number, deadlineMs: number, nowMs: number): number {
  return Math.max(1, Math.min(probeMs, deadlineMs - nowMs));
}

/**
 * Polls the socket until `initialize` answers. Fails at once when the process
 * exits (no waiting out the timeout for a corpse).
 */
export async function waitUntilReady(
  ctx: DaemonContext,
  record: PidRecord,
  child?: SpawnedProcess,
): Promise<ProbeInfo> {
  const timeoutMs = ctx.options.startTimeoutMs ?? START_TIMEOUT_MS;
  const pollMs = ctx.options.readyPollMs ?? READY_POLL_MS;
  const deadline = ctx.clock.now() + timeoutMs;
  let exitStatus: Deno.CommandStatus | undefined;
  child?.exited.then((status) => exitStatus = status);
  const probeMs = probeTimeoutMs(ctx);
  while (true) {
    // Until the server links its socket (~half of its start-up), a lstat
    // says "not yet" for a fraction of a full probe's CPU, which the starting
    // server needs on a small machine. Once linked, one probe waits for the
    // answer: the server accepts before it is ready to initialize.
    if (pathExists(ctx.paths.socketPath, { follow: false })) {
      const budget = probeBudgetMs(probeMs, deadline, ctx.clock.now());
      const info = await probe(ctx, { timeoutMs: budget });
      if (info) return info;
    }
    if (exitStatus !== undefined) {
      throw await notReady(
        ctx,
        `pid ${record.pid} exited with ${
          exitStatus.signal ? `signal ${exitStatus.signal}` : `code ${exitStatus.code}`
        } before answering`,
      );
    }
    if (child === undefined && !isRecordAlive(record)) {
      throw await notReady(ctx, `pid ${record.pid} exited before answering`);
    }
    if (ctx.clock.now() >= deadline) {
      throw await notReady(ctx, `no answer within ${timeoutMs} ms`);
    }
    await ctx.clock.sleep(pollMs);
  }
}

/** Kills what a failed start spawned and forgets it; leaves no process behind. */
async function abandonStart(
  ctx: DaemonContext,
  record: PidRecord | undefined,
  child: SpawnedProcess,
): Promise<void> {
  if (record) {
    await terminateRecorded(record, { graceMs: FAILED_START_GRACE_MS, clock: ctx.clock })
      .catch(() => {});
  } else {
    signalGroup(child.pid, "SIGKILL");
  }
  // We are still its parent: reap it so no zombie is left.
  await child.exited.catch(() => {});
  await removeServerRecords(ctx.paths);
}

/**
 * Fails before spawning when codex's socket directory (`/tmp/codex-daemon-<uid>`)
 * was planted by someone else: the app-server could not bind there (a bare
 * `NOT_READY` would not say why), or would bind where another user listens.
 *
 * @throws {CodexdError} `SOCKET_DIR_UNSAFE`, naming the directory.
 */
export function checkSocketDir(uid: number = Deno.uid() ?? -1): void {
  if (Deno.build.os !== "linux") return; // macOS codex keeps it under the per-user $TMPDIR
  const dir = codexSocketDir(uid);
  const problem = socketDirProblem(uid, dir);
  if (problem === undefined) return;
  throw new CodexdError(
    "SOCKET_DIR_UNSAFE",
    `Cannot start the app-server: its socket directory ${problem}; another user may have planted it`,
    `remove ${dir} (as root if another user owns it), then: codexd start`,
  );
}

/** What a spawn produced once ready. */
export interface SpawnOutcome {
  /** The verified record of the new process. */
  record: PidRecord;
  /** What it answered. */
  info: ProbeInfo;
  /** The binary's facts. */
  facts: BinaryFacts;
}

/** The binary a launch runs, as the out-of-band watch records it. */
export interface LaunchedFrom {
  /** The path launched (symlinks unresolved). */
  path: string;
  /** Its signature, taken before the spawn (see `binary_watch.ts`). */
  signature: string;
}

/** A launch made ready: the binary and the socket directory checked, logs capped. */
export interface PreparedLaunch {
  /** The binary's facts. */
  facts: BinaryFacts;
  /** What to spawn. */
  spec: SpawnSpec;
  /** What the launch runs. */
  launchedFrom: LaunchedFrom;
  /** The home's layout: where the new server is recorded and logs. */
  layout: HomeLayout;
}

/**
 * Everything before the spawn: checks the binary and the socket directory,
 * reads the binary's facts, caps the logs, and builds what to spawn.
 *
 * @throws {CodexdError} binary errors, `SOCKET_DIR_UNSAFE`.
 */
export async function prepareLaunch(
  ctx: DaemonContext,
  settings: DaemonSettings,
  binary: ManagedBinary,
): Promise<PreparedLaunch> {
  preflightBinary(binary);
  checkSocketDir();
  // Before the facts and the spawn: a replacement from here on shows as a change.
  const signature = signatureNow(binary.path);
  const facts = await readBinaryFacts(ctx.paths, binary.path);
  await capLogs(ctx.paths);
  const layout = homeLayout(ctx.paths);
  await clearStrayPackageLog(ctx.paths, layout);
  return {
    facts,
    layout,
    spec: {
      command: binary.path,
      args: launchArgs(settings, facts, ctx.options.configArgs),
      env: launchEnv(ctx, settings),
      unsetEnv: settings.remoteControlEnabled ? [REMOTE_CONTROL_DISABLED_ENV] : [],
      logFile: layout.logFile,
    },
    launchedFrom: { path: binary.path, signature },
  };
}

/**
 * Records a just-spawned (or just-released) app-server and waits until it
 * answers; on failure stops it and removes its records.
 *
 * @throws {CodexdError} `NOT_READY`.
 */
export async function recordAndAwait(
  ctx: DaemonContext,
  facts: BinaryFacts,
  child: SpawnedProcess,
  launchedFrom?: LaunchedFrom,
  layout: HomeLayout = homeLayout(ctx.paths),
): Promise<SpawnOutcome> {
  let record: PidRecord | undefined;
  try {
    // Recorded before readiness so a CLI killed mid-start leaves a record
    // the next command adopts instead of a stray server.
    record = await writeServerRecord(ctx.paths, child.pid, layout.recordFile);
    if (record === undefined) {
      const status = await child.exited;
      throw await notReady(
        ctx,
        `pid ${child.pid} exited at once with code ${status.code}`,
        layout.logFile,
      );
    }
    const info = await waitUntilReady(ctx, record, child);
    child.detach();
    if (launchedFrom !== undefined) {
      // Best effort: without it an upgrade is noticed by the next update pass.
      await writeLaunchedBinary(ctx.paths, {
        ...launchedFrom,
        pid: record.pid,
        version: info.appServerVersion ?? facts.version,
      }).catch(() => {});
    }
    return { record, info, facts };
  } catch (error) {
    await abandonStart(ctx, record, child);
    throw error;
  }
}

/**
 * Spawns the app-server, records it, and waits until it answers. Call under
 * the lock, after making sure nothing is running.
 *
 * @throws {CodexdError} binary errors, `SPAWN_FAILED`, `NOT_READY`.
 */
export async function spawnAppServer(
  ctx: DaemonContext,
  settings: DaemonSettings,
  binary: ManagedBinary,
): Promise<SpawnOutcome> {
  const prepared = await prepareLaunch(ctx, settings, binary);
  return await recordAndAwait(
    ctx,
    prepared.facts,
    await spawnDetached(prepared.spec),
    prepared.launchedFrom,
    prepared.layout,
  );
}

/** Warnings worth showing whenever a new app-server was spawned. */
export async function spawnWarnings(): Promise<string[]> {
  const { lingerWarning } = await import("../process/linger.ts");
  const warning = lingerWarning();
  return warning ? [warning] : [];
}
