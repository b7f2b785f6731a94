/**
 * Supervision: what the updater loop runs when the recorded app-server is no
 * longer alive. It restarts it with the flags from settings, backing off
 * exponentially across consecutive crashes, and gives up visibly (a `down`
 * marker plus `gaveUp` in `updater-state.json`) instead of storming.
 *
 * Decisions are pure functions ({@linkcode nextBackoffSeconds},
 * {@linkcode decideRestart}) tested by tables; {@linkcode superviseOnce} does
 * the I/O under a try-lock (a busy lock means a user command is acting: skip).
 *
 * @module
 */
import { readServerState } from "../server/server_record.ts";
import { tryAcquireDaemonLock } from "../state/daemon_lock.ts";
import { CodexdError, describeError } from "../errors.ts";
import {
  createContext,
  type DaemonContext,
  type DaemonOptions,
  requireHome,
} from "../server/context.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";
import { startLocked } from "../server/lifecycle.ts";
import {
  type DaemonPaths,
  daemonPaths,
  ensureStateDir,
  join,
  resolveCodexHome,
} from "../state/paths.ts";
import { capLogs } from "../state/logs.ts";
import { writeFileAtomic } from "../state/atomic_file.ts";
import { loadSettingsLenient, type SupervisionSettings } from "../state/settings.ts";
import { DOWN_FILE, HOLDOFF_FILE, setDown } from "../state/down_marker.ts";
import { patchUpdaterState, readUpdaterState, type UpdaterState } from "./state.ts";

/** Backoff before restart attempt number `attempts + 1`, after `attempts` consecutive ones. */
export function nextBackoffSeconds(attempts: number, policy: SupervisionSettings): number {
  if (attempts <= 0) return 0;
  return Math.min(policy.backoffBaseSeconds * 2 ** (attempts - 1), policy.backoffMaxSeconds);
}

/** What supervision should do about a dead app-server right now. */
export type RestartDecision =
  | { kind: "restart"; attempts: number }
  | { kind: "wait"; untilMs: number; backoffSeconds: number }
  | { kind: "giveUp"; attempts: number };

/**
 * Decides from the persisted state: consecutive attempts reset after a
 * stable run; each further attempt waits out the backoff; past
 * `maxAttempts` supervision gives up.
 */
export function decideRestart(
  state: UpdaterState,
  policy: SupervisionSettings,
  nowMs: number,
): RestartDecision {
  const lastMs = state.lastRestartAt ? Date.parse(state.lastRestartAt) : undefined;
  const previous = state.consecutiveFailures ?? 0;
  const backoff = nextBackoffSeconds(previous, policy);
  // A run longer than the stable window (plus the wait before it) resets the count.
  const stable = lastMs === undefined ||
    nowMs - lastMs > (policy.stableSeconds + backoff) * 1000;
  const attempts = stable ? 0 : previous;
  if (attempts >= policy.maxAttempts) return { kind: "giveUp", attempts };
  const waitSeconds = nextBackoffSeconds(attempts, policy);
  if (lastMs !== undefined && !stable && nowMs < lastMs + waitSeconds * 1000) {
    return { kind: "wait", untilMs: lastMs + waitSeconds * 1000, backoffSeconds: waitSeconds };
  }
  return { kind: "restart", attempts: attempts + 1 };
}

/** What one supervision pass did. */
export interface SuperviseResult {
  /** `healthy`, `down` (deliberately stopped), `busy` (lock held), `waiting`, `restarted`, `restartFailed`, `gaveUp`. */
  status: "healthy" | "down" | "busy" | "waiting" | "restarted" | "restartFailed" | "gaveUp";
  /** The new app-server's pid after a restart. */
  pid?: number;
  /** Why, for the failures. */
  message?: string;
}

async function writeHoldoff(stateDir: string, untilMs: number): Promise<void> {
  await writeFileAtomic(join(stateDir, HOLDOFF_FILE), `${Math.ceil(untilMs / 1000)}\n`);
}

/**
 * One supervision pass: if the app-server should run and does not, restart
 * it per the backoff policy.
 */
export async function superviseOnce(options: DaemonOptions = {}): Promise<SuperviseResult> {
  let paths: DaemonPaths | undefined;
  try {
    paths = daemonPaths(resolveCodexHome(options.codexHome));
  } catch {
    // no home to log to
  }
  try {
    const ctx = createContext(options);
    // A home that is gone: nothing to supervise, and nothing to create (not even the log).
    paths = undefined;
    requireHome(ctx);
    paths = ctx.paths;
    const result = await superviseWith(ctx);
    const line = describeSupervision(result);
    if (line) await appendUpdaterLog(paths, `supervise: ${line}`);
    return result;
  } catch (error) {
    // The updater's CLI prints nothing for a pass: its one log line is the record.
    const first = describeError(error).split("\n")[0];
    const code = error instanceof CodexdError ? `${error.code}: ` : "";
    if (paths) await appendUpdaterLog(paths, `supervise: error: ${code}${first}`);
    throw error;
  }
}

/** The updater-log line for a supervision outcome; none for a healthy server. */
export function describeSupervision(result: SuperviseResult): string | undefined {
  const why = (result.message ?? "").split("\n")[0];
  switch (result.status) {
    case "healthy":
      return undefined;
    case "busy":
      return "skipped: another codexd command holds daemon.lock";
    case "down":
      return "skipped: stopped by the user";
    case "waiting":
      return "app-server down; waiting out the backoff";
    case "restarted":
      return `restarted the app-server (pid ${result.pid})`;
    case "restartFailed":
      return `restart failed: ${why}`;
    case "gaveUp":
      return `${why}; not restarting until codexd start`;
  }
}

async function superviseWith(ctx: DaemonContext): Promise<SuperviseResult> {
  await ensureStateDir(ctx.paths);
  const lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) return { status: "busy" };
  // Supervision runs exactly when things go wrong: cap the logs every time.
  await capLogs(ctx.paths);
  try {
    try {
      await Deno.stat(join(ctx.paths.stateDir, DOWN_FILE));
      return { status: "down" };
    } catch {
      // not deliberately down: supervise
    }
    const pid = await readServerState(ctx.paths);
    if (pid.kind === "running" || pid.kind === "unverifiable") return { status: "healthy" };
    const settings = await loadSettingsLenient(ctx.paths);
    const policy = settings.updater.supervision;
    const state = await readUpdaterState(ctx.paths);
    const now = ctx.clock.now();
    const lastExit = pid.kind === "stale"
      ? `${new Date(now).toISOString()} ${pid.reason}`
      : state.lastExit;
    const decision = decideRestart(state, policy, now);
    switch (decision.kind) {
      case "giveUp": {
        await patchUpdaterState(ctx.paths, { gaveUp: true, lastExit, nextRestartAt: undefined });
        await setDown(ctx.paths, true, `supervision gave up after ${decision.attempts} restarts`);
        return { status: "gaveUp", message: `gave up after ${decision.attempts} restarts` };
      }
      case "wait": {
        await writeHoldoff(ctx.paths.stateDir, decision.untilMs);
        await patchUpdaterState(ctx.paths, {
          lastExit,
          backoffSeconds: decision.backoffSeconds,
          nextRestartAt: new Date(decision.untilMs).toISOString(),
        });
        return { status: "waiting" };
      }
      case "restart": {
        const restartedAt = new Date(now).toISOString();
        const backoffSeconds = nextBackoffSeconds(decision.attempts, policy);
        await writeHoldoff(ctx.paths.stateDir, now + backoffSeconds * 1000);
        try {
          const result = await startLocked(ctx, settings);
          await patchUpdaterState(ctx.paths, {
            lastExit,
            lastRestartAt: restartedAt,
            consecutiveFailures: decision.attempts,
            restartCount: (state.restartCount ?? 0) + 1,
            backoffSeconds,
            gaveUp: false,
            nextRestartAt: undefined,
          });
          return { status: "restarted", pid: result.pid ?? undefined };
        } catch (error) {
          await patchUpdaterState(ctx.paths, {
            lastExit: `${restartedAt} restart failed: ${describeError(error).split("\n")[0]}`,
            lastRestartAt: restartedAt,
            consecutiveFailures: decision.attempts,
            backoffSeconds,
            nextRestartAt: new Date(now + backoffSeconds * 1000).toISOString(),
          });
          return { status: "restartFailed", message: describeError(error) };
        }
      }
    }
  } finally {
    await lock.release();
  }
}
