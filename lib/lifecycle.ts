/**
 * The lifecycle commands — `start`, `stop`, `restart`, `version`, `status` —
 * as library functions that return the objects the CLI prints. Mutating
 * commands hold `daemon.lock` for their whole critical section and decide
 * "running or not" only after taking it.
 *
 * Touches, under CODEX_HOME: `app-server-daemon/{daemon.lock, app-server.pid,
 * settings.json, app-server.stderr.log, managed-binary.json}` and the control
 * socket `app-server-control/app-server-control.sock`.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { isAnswering, PROBE_TIMEOUT_MS, type ProbeInfo } from "./control_socket.ts";
import { acquireDaemonLock, type DaemonLock } from "./daemon_lock.ts";
import { CodexdError } from "./errors.ts";
import { spawnDetached, type SpawnedProcess } from "./launch.ts";
import { tailFile } from "./logs.ts";
import {
  type BinaryFacts,
  locateBinary,
  type ManagedBinary,
  preflightBinary,
  readBinaryFacts,
  tryReadBinaryFacts,
} from "./managed_binary.ts";
import { type DaemonPaths, daemonPaths, resolveCodexHome } from "./paths.ts";
import {
  isRecordAlive,
  type PidRecord,
  type PidState,
  readPidState,
  removePidRecord,
  writePidRecord,
} from "./pid_record.ts";
import { type DaemonSettings, loadSettings, loadSettingsLenient } from "./settings.ts";
import { signalGroup, terminateRecorded } from "./terminate.ts";
import { CODEXD_VERSION } from "./version.ts";

/** Default bound on waiting for a spawned app-server to answer `initialize`. */
export const START_TIMEOUT_MS = 10_000;
/** Readiness poll interval: the app-server is ready ~50 ms after spawn, so poll often. */
export const READY_POLL_MS = 10;
/** Grace given to a spawned process that failed to become ready. */
export const FAILED_START_GRACE_MS = 1_000;
/** Lines of the stderr log quoted in a `NOT_READY` error. */
export const LOG_TAIL_LINES = 12;
/** Environment variable the reference sets when remote control is disabled. */
export const REMOTE_CONTROL_DISABLED_ENV = "CODEX_INTERNAL_APP_SERVER_REMOTE_CONTROL_DISABLED";

/** Options shared by every lifecycle function. */
export interface DaemonOptions {
  /** CODEX_HOME. @default {`$CODEX_HOME`, else `~/.codex`} */
  codexHome?: string;
  /** Launch this codex binary instead of the managed install (overrides settings `codexBin`). */
  codexBin?: string;
  /** Seconds between SIGTERM and SIGKILL for `stop`/`restart`. @default {settings.shutdownGraceSeconds} */
  graceSeconds?: number;
  /** How long a spawned app-server may take to answer. @default {START_TIMEOUT_MS} */
  startTimeoutMs?: number;
  /** Readiness poll interval. @default {READY_POLL_MS} */
  readyPollMs?: number;
  /** Bound on one control-socket probe. @default {PROBE_TIMEOUT_MS} */
  probeTimeoutMs?: number;
  /** Bound on waiting for `daemon.lock`. @default {LOCK_TIMEOUT_MS} */
  lockTimeoutMs?: number;
  /** Time source, injected by tests. @default {systemClock} */
  clock?: Clock;
  /** The OS to act as; tests inject one to check the platform guard. @default {Deno.build.os} */
  os?: typeof Deno.build.os;
}

/** Lifecycle statuses, as the reference spells them. */
export type LifecycleStatus =
  | "started"
  | "alreadyRunning"
  | "restarted"
  | "stopped"
  | "notRunning"
  | "running";

/** The JSON object lifecycle commands print; field-compatible with the reference. */
export interface LifecycleResult {
  /** What happened. */
  status: LifecycleStatus;
  /** Always `"pid"` when a managed process is involved. */
  backend?: "pid";
  /** The pid, when a process was spawned or is running. */
  pid?: number;
  /** The binary codexd launches. */
  managedCodexPath: string;
  /** Its `--version`, or `null` when it is missing or unreadable. */
  managedCodexVersion: string | null;
  /** The control socket. */
  socketPath: string;
  /** The managed codex CLI's version. */
  cliVersion?: string;
  /** The version the running app-server reports. */
  appServerVersion?: string;
  /** This codexd's version. */
  codexdVersion: string;
  /** Non-fatal problems a user should know about. */
  warnings?: string[];
}

/** Everything codexd needs for one command on one CODEX_HOME. */
export interface DaemonContext {
  /** File layout. */
  paths: DaemonPaths;
  /** The options given, with defaults applied where needed. */
  options: DaemonOptions;
  /** The clock. */
  clock: Clock;
}

/**
 * Resolves CODEX_HOME and checks the platform.
 *
 * @throws {CodexdError} `UNSUPPORTED_PLATFORM` off Unix.
 */
export function createContext(options: DaemonOptions = {}): DaemonContext {
  const os = options.os ?? Deno.build.os;
  if (os === "windows") {
    throw new CodexdError(
      "UNSUPPORTED_PLATFORM",
      `Cannot manage the app-server on ${os}: codexd supports Linux and macOS only`,
    );
  }
  const codexHome = resolveCodexHome(options.codexHome);
  return {
    paths: daemonPaths(codexHome),
    options,
    clock: options.clock ?? systemClock,
  };
}

/** Takes `daemon.lock` for a mutating command. */
export async function lockDaemon(ctx: DaemonContext): Promise<DaemonLock> {
  return await acquireDaemonLock(ctx.paths.lockFile, {
    timeoutMs: ctx.options.lockTimeoutMs,
    clock: ctx.clock,
  });
}

/** The binary to launch under the given settings and options. */
export function binaryFor(ctx: DaemonContext, settings: DaemonSettings): ManagedBinary {
  return locateBinary(ctx.paths, ctx.options.codexBin ?? settings.codexBin);
}

function probe(ctx: DaemonContext): Promise<ProbeInfo | undefined> {
  return isAnswering(ctx.paths.socketPath, {
    timeoutMs: ctx.options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
  });
}

/** Builds the result object, filling in the binary's facts when readable. */
async function result(
  ctx: DaemonContext,
  binary: ManagedBinary,
  status: LifecycleStatus,
  extra: Partial<LifecycleResult> = {},
  knownFacts?: BinaryFacts,
): Promise<LifecycleResult> {
  const facts = knownFacts ?? await tryReadBinaryFacts(ctx.paths, binary.path);
  return {
    status,
    ...(extra.backend ? { backend: extra.backend } : {}),
    ...(extra.pid !== undefined ? { pid: extra.pid } : {}),
    managedCodexPath: binary.path,
    managedCodexVersion: facts?.version ?? null,
    socketPath: ctx.paths.socketPath,
    ...(facts ? { cliVersion: facts.version } : {}),
    ...(extra.appServerVersion ? { appServerVersion: extra.appServerVersion } : {}),
    codexdVersion: CODEXD_VERSION,
    ...(extra.warnings?.length ? { warnings: extra.warnings } : {}),
  };
}

function unmanagedServer(ctx: DaemonContext): CodexdError {
  // The Rust reference records its daemon in daemon.pid: name the tool that owns it.
  let byReference = false;
  try {
    Deno.statSync(`${ctx.paths.stateDir}/daemon.pid`);
    byReference = true;
  } catch {
    // not the reference's
  }
  return new CodexdError(
    "UNMANAGED_SERVER",
    `An app-server answers on ${ctx.paths.socketPath} but codexd has no record of starting it${
      byReference ? " (codex app-server daemon manages it)" : ""
    }; leaving it alone`,
    byReference
      ? "codex app-server daemon stop, then: codexd start"
      : "stop that app-server yourself, then run: codexd start",
  );
}

function unverifiable(ctx: DaemonContext, state: PidState & { kind: "unverifiable" }): CodexdError {
  return new CodexdError(
    "PID_UNVERIFIABLE",
    `Cannot verify that pid ${state.record.pid} is the app-server codexd started (${state.reason}); not signalling it`,
    `check pid ${state.record.pid}, then remove ${ctx.paths.pidFile}`,
  );
}

/** The launch arguments for the app-server under `settings`. */
export function launchArgs(settings: DaemonSettings, facts: BinaryFacts): string[] {
  return [
    "app-server",
    ...(settings.remoteControlEnabled ? ["--remote-control"] : []),
    "--listen",
    "unix://",
    ...facts.launchFlags,
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
): Promise<CodexdError> {
  const tail = await tailFile(ctx.paths.logFile, LOG_TAIL_LINES);
  const log = tail.length ? `\nLast lines of ${ctx.paths.logFile}:\n${tail.join("\n")}` : "";
  return new CodexdError(
    "NOT_READY",
    `App-server did not become ready on ${ctx.paths.socketPath}: ${why}${log}`,
    `codexd logs`,
  );
}

/**
 * Polls the socket until `initialize` answers. Fails at once when the process
 * exits (no waiting out the timeout for a corpse).
 */
async function waitUntilReady(
  ctx: DaemonContext,
  record: PidRecord,
  child?: SpawnedProcess,
): Promise<ProbeInfo> {
  const timeoutMs = ctx.options.startTimeoutMs ?? START_TIMEOUT_MS;
  const pollMs = ctx.options.readyPollMs ?? READY_POLL_MS;
  const deadline = ctx.clock.now() + timeoutMs;
  let exitStatus: Deno.CommandStatus | undefined;
  child?.exited.then((status) => exitStatus = status);
  while (true) {
    const info = await probe(ctx);
    if (info) return info;
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
  await removePidRecord(ctx.paths.pidFile);
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
  preflightBinary(binary);
  const facts = await readBinaryFacts(ctx.paths, binary.path);
  const child = await spawnDetached({
    command: binary.path,
    args: launchArgs(settings, facts),
    env: launchEnv(ctx, settings),
    unsetEnv: settings.remoteControlEnabled ? [REMOTE_CONTROL_DISABLED_ENV] : [],
    logFile: ctx.paths.logFile,
  });
  let record: PidRecord | undefined;
  try {
    // Recorded before readiness so a CLI killed mid-start leaves a record
    // the next command adopts instead of a stray server.
    record = await writePidRecord(ctx.paths.pidFile, child.pid);
    if (record === undefined) {
      const status = await child.exited;
      throw await notReady(ctx, `pid ${child.pid} exited at once with code ${status.code}`);
    }
    const info = await waitUntilReady(ctx, record, child);
    child.detach();
    return { record, info, facts };
  } catch (error) {
    await abandonStart(ctx, record, child);
    throw error;
  }
}

/** Stops the recorded app-server (if any) under the lock; returns whether one was stopped. */
export async function stopRecorded(
  ctx: DaemonContext,
  state: PidState,
  settings: DaemonSettings,
): Promise<boolean> {
  switch (state.kind) {
    case "missing":
      return false;
    case "stale":
      await removePidRecord(ctx.paths.pidFile);
      return false;
    case "unverifiable":
      throw unverifiable(ctx, state);
    case "running": {
      const graceSeconds = ctx.options.graceSeconds ?? settings.shutdownGraceSeconds;
      await terminateRecorded(state.record, { graceMs: graceSeconds * 1000, clock: ctx.clock });
      await removePidRecord(ctx.paths.pidFile);
      return true;
    }
  }
}

/** Warnings worth showing whenever a new app-server was spawned. */
async function spawnWarnings(): Promise<string[]> {
  const { lingerWarning } = await import("./linger.ts");
  const warning = lingerWarning();
  return warning ? [warning] : [];
}

/** `start` under an already held lock. */
export async function startLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  const state = await readPidState(ctx.paths.pidFile);
  switch (state.kind) {
    case "running": {
      // Up, or still starting after a CLI was killed mid-start: adopt it.
      const [answered, facts] = await Promise.all([
        probe(ctx),
        tryReadBinaryFacts(ctx.paths, binary.path),
      ]);
      const info = answered ?? await waitUntilReady(ctx, state.record)
        .catch(async (error) => {
          await stopRecorded(ctx, state, { ...settings, shutdownGraceSeconds: 1 });
          throw error;
        });
      return await result(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
      }, facts);
    }
    case "unverifiable": {
      const info = await probe(ctx);
      if (info === undefined) throw unverifiable(ctx, state);
      return await result(ctx, binary, "alreadyRunning", {
        backend: "pid",
        pid: state.record.pid,
        appServerVersion: info.appServerVersion,
      });
    }
    case "stale":
      await removePidRecord(ctx.paths.pidFile);
      break;
    case "missing":
      break;
  }
  if (await probe(ctx)) throw unmanagedServer(ctx);
  const spawned = await spawnAppServer(ctx, settings, binary);
  return await result(ctx, binary, "started", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    warnings: await spawnWarnings(),
  }, spawned.facts);
}

/** `restart` under an already held lock. */
export async function restartLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<LifecycleResult> {
  const binary = binaryFor(ctx, settings);
  // Check the binary (and that it reports a version) before stopping
  // anything: a broken binary must not turn a working server into no server.
  preflightBinary(binary);
  await readBinaryFacts(ctx.paths, binary.path);
  const state = await readPidState(ctx.paths.pidFile);
  const stopped = await stopRecorded(ctx, state, settings);
  if (!stopped && await probe(ctx)) throw unmanagedServer(ctx);
  const spawned = await spawnAppServer(ctx, settings, binary);
  return await result(ctx, binary, "restarted", {
    backend: "pid",
    pid: spawned.record.pid,
    appServerVersion: spawned.info.appServerVersion,
    warnings: await spawnWarnings(),
  }, spawned.facts);
}

/**
 * Starts the managed app-server unless it is already up; returns once it
 * answers `initialize`. Idempotent.
 *
 * @example
 * ```ts ignore
 * import { start } from "./lifecycle.ts";
 * const result = await start({ codexHome: "/home/me/.codex" });
 * console.log(result.status, result.pid); // "started" 4242, or "alreadyRunning"
 * ```
 */
export async function start(options: DaemonOptions = {}): Promise<LifecycleResult> {
  const ctx = createContext(options);
  await using _lock = await lockDaemon(ctx);
  const { settings } = await loadSettings(ctx.paths);
  await markWanted(ctx, settings);
  const outcome = await startLocked(ctx, settings);
  return await withUpdaterEnsured(ctx, settings, outcome);
}

/**
 * Stops the managed app-server (SIGTERM, grace, SIGKILL) and removes its
 * record. Works even when settings are malformed.
 *
 * @example
 * ```ts ignore
 * import { stop } from "./lifecycle.ts";
 * const { status } = await stop({ graceSeconds: 5 }); // "stopped" or "notRunning"
 * ```
 */
export async function stop(options: StopOptions = {}): Promise<StopResult> {
  const ctx = createContext(options);
  await using _lock = await lockDaemon(ctx);
  const settings = await loadSettingsLenient(ctx.paths);
  const binary = binaryFor(ctx, settings);
  let updaterStopped: boolean | undefined;
  if (options.all) {
    const { stopUpdater } = await import("./updater.ts");
    updaterStopped = await stopUpdater(ctx);
  }
  if (settings.updater.enabled) {
    // Deliberately stopped: supervision must not bring it back.
    const { setDown } = await import("./updater.ts");
    await setDown(ctx, true);
  }
  const extra = updaterStopped === undefined ? {} : { updaterStopped };
  const state = await readPidState(ctx.paths.pidFile);
  if (await stopRecorded(ctx, state, settings)) {
    return { ...await result(ctx, binary, "stopped", { backend: "pid" }), ...extra };
  }
  if (await probe(ctx)) throw unmanagedServer(ctx);
  return { ...await result(ctx, binary, "notRunning"), ...extra };
}

/** Options for {@linkcode stop}. */
export interface StopOptions extends DaemonOptions {
  /** Also stop the updater's whole process group. @default {false} */
  all?: boolean;
}

/** What {@linkcode stop} returns. */
export interface StopResult extends LifecycleResult {
  /** With `all`: whether an updater was running and was stopped. */
  updaterStopped?: boolean;
}

/**
 * Stops the app-server if it runs, then starts it again (a fresh process).
 *
 * @example
 * ```ts ignore
 * import { restart } from "./lifecycle.ts";
 * const { pid } = await restart();
 * ```
 */
export async function restart(options: DaemonOptions = {}): Promise<LifecycleResult> {
  const ctx = createContext(options);
  await using _lock = await lockDaemon(ctx);
  const { settings } = await loadSettings(ctx.paths);
  await markWanted(ctx, settings);
  const outcome = await restartLocked(ctx, settings);
  return await withUpdaterEnsured(ctx, settings, outcome);
}

/**
 * Asks the running app-server for its version. Takes no lock.
 *
 * @throws {CodexdError} `NOT_RUNNING` when nothing answers.
 * @example
 * ```ts ignore
 * import { version } from "./lifecycle.ts";
 * const { appServerVersion } = await version();
 * ```
 */
export async function version(options: DaemonOptions = {}): Promise<LifecycleResult> {
  const ctx = createContext(options);
  const settings = await loadSettingsLenient(ctx.paths);
  const binary = binaryFor(ctx, settings);
  // The probe goes first so its socket round trip overlaps the file reads.
  const [info, state, facts] = await Promise.all([
    probe(ctx),
    readPidState(ctx.paths.pidFile),
    tryReadBinaryFacts(ctx.paths, binary.path),
  ]);
  if (info === undefined) {
    throw new CodexdError(
      "NOT_RUNNING",
      `No app-server answers on ${ctx.paths.socketPath}`,
      "codexd start",
    );
  }
  return await result(ctx, binary, "running", {
    ...(state.kind === "running" ? { backend: "pid" as const, pid: state.record.pid } : {}),
    appServerVersion: info.appServerVersion,
  }, facts);
}

/**
 * A user asked for the app-server to run: clear the `down` marker and any
 * supervision give-up so the updater supervises it again. Only relevant once
 * `bootstrap` enabled the updater, so the hot path of a plain `start` skips it.
 */
export async function markWanted(ctx: DaemonContext, settings: DaemonSettings): Promise<void> {
  if (!settings.updater.enabled) return;
  const { setDown } = await import("./updater.ts");
  const { resetSupervision } = await import("./supervise.ts");
  await setDown(ctx, false);
  await resetSupervision(ctx);
}

/** Re-ensures the updater after start/restart when `bootstrap` enabled it. */
export async function withUpdaterEnsured<T extends LifecycleResult>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  outcome: T,
): Promise<T> {
  if (!settings.updater.enabled) return outcome;
  const { ensureUpdater } = await import("./updater.ts");
  const warning = await ensureUpdater(ctx, settings).then(
    () => undefined,
    (error: Error) => `updater not running: ${error.message}`,
  );
  return warning ? { ...outcome, warnings: [...(outcome.warnings ?? []), warning] } : outcome;
}
