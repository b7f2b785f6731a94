/**
 * What a user's `stop` / `restart` learns about running turns: without
 * `--when-idle` it counts them (reports `activeTurns` and a warning so a
 * client sees what the stop is about to cut short); with it,
 * {@linkcode untilIdle} waits (bounded) for idle *without* the lock (waiting
 * must not block other commands), then has the command take the lock and
 * ask the gate (`gate.ts`), which confirms idle again under the lock right
 * before the signal. A turn that started meanwhile sends it back to waiting;
 * at `--idle-timeout-seconds` it fails `STILL_BUSY` and nothing is stopped.
 * A live server that does not answer is never taken for idle.
 * Reads `settings.json` (the grace, for the warning) and the pid record;
 * writes nothing.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import { CodexdError } from "../errors.ts";
import { readServerState } from "../server/server_record.ts";
import { loadSettingsLenient } from "../state/settings.ts";
import type { GateHold } from "./gate.ts";
import { observeIdle, readServerTurns } from "./probe.ts";

/** Default bound on `--when-idle` waiting: 10 minutes. */
export const IDLE_WAIT_TIMEOUT_MS = 600_000;
/** Pause between idle checks while waiting (each check itself spans two probes). */
export const IDLE_WAIT_POLL_MS = 2_000;

/** Options of `stop` / `restart` about running turns. */
export interface WhenIdleOptions {
  /** Wait until no turn runs before stopping. @default {false} */
  whenIdle?: boolean;
  /** Bound on that wait. @default {IDLE_WAIT_TIMEOUT_MS} */
  idleTimeoutMs?: number;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/** Fields `stop` / `restart` add to their result. */
export interface TurnReport {
  /** Turns running when the stop began (only when some were). */
  activeTurns?: number;
  /** With `whenIdle`: what it waited for. */
  waitedForIdle?: {
    /** Seconds spent waiting. */
    seconds: number;
    /** Turns running when the wait began. */
    activeTurnsAtStart: number;
  };
  /** Warnings to merge into the result. */
  warnings: string[];
}

/** The result fields a {@linkcode TurnReport} adds (its warnings go into `warnings`). */
export function turnFields(turns: TurnReport): Omit<TurnReport, "warnings"> {
  return {
    ...(turns.activeTurns !== undefined ? { activeTurns: turns.activeTurns } : {}),
    ...(turns.waitedForIdle ? { waitedForIdle: turns.waitedForIdle } : {}),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Counts the running turns before a user's plain stop or restart (no wait)
 * and words the warning. Never throws.
 */
export async function countTurnsBeforeStop(
  ctx: DaemonContext,
  verb: "stop" | "restart",
): Promise<TurnReport> {
  const atStart = (await readServerTurns(ctx)).activeTurns ?? 0;
  if (atStart === 0) return { warnings: [] };
  const settings = await loadSettingsLenient(ctx.paths);
  const grace = ctx.options.graceSeconds ?? settings.shutdownGraceSeconds;
  const how = grace < 0
    ? "the app-server drains them first (no grace limit)"
    : `the app-server drains them for up to ${grace} s, then they are killed`;
  return {
    activeTurns: atStart,
    warnings: [
      `${plural(atStart, "turn")} running at ${verb}: ${how}; use --when-idle to wait for them`,
    ],
  };
}

/** One locked attempt of {@linkcode untilIdle}: done, or held by the gate. */
export type IdleAttempt<T> = { done: true; value: T } | { done: false; hold: GateHold };

function stillBusy(
  verb: "stop" | "restart",
  timeoutMs: number,
  activeTurns: number | null,
): CodexdError {
  const what = activeTurns === null
    ? "the app-server does not answer, so codexd cannot tell whether turns run"
    : `${plural(activeTurns, "turn")} still running`;
  return new CodexdError(
    "STILL_BUSY",
    `Not ${verb === "stop" ? "stopping" : "restarting"}: ${what} after waiting ${
      Math.round(timeoutMs / 1000)
    } s`,
    activeTurns === null
      ? `codexd ${verb} (without --when-idle: stops it now)`
      : `codexd ${verb} --when-idle --idle-timeout-seconds ${
        Math.max(60, Math.round((2 * timeoutMs) / 1000))
      }`,
    { activeTurns },
  );
}

/**
 * `--when-idle`: waits without the lock until the server looks idle (or no
 * server runs), then runs `attempt` — which takes the lock and asks the
 * gate in `whenIdle` mode. A hold (a turn started while the lock was being
 * taken, or the server stopped answering) goes back to waiting, within
 * `idleTimeoutMs` overall.
 *
 * @throws {CodexdError} `STILL_BUSY` (with `activeTurns`, `null` when the
 * server does not answer) at the bound; nothing was stopped.
 */
export async function untilIdle<T>(
  ctx: DaemonContext,
  verb: "stop" | "restart",
  options: WhenIdleOptions,
  attempt: () => Promise<IdleAttempt<T>>,
): Promise<{ value: T; report: TurnReport }> {
  const { idleTimeoutMs = IDLE_WAIT_TIMEOUT_MS } = options;
  const started = ctx.clock.now();
  const first = await readServerTurns(ctx);
  const atStart = first.activeTurns ?? 0;
  let last: number | null = first.activeTurns;
  const timedOut = (): boolean => ctx.clock.now() - started >= idleTimeoutMs;
  while (true) {
    // Unlocked: poll until it looks idle (the gate confirms under the lock).
    while (true) {
      if ((await readServerState(ctx.paths)).kind !== "running") break;
      const seen = await observeIdle(ctx.paths.socketPath, {
        gapMs: options.idleGapMs,
        timeoutMs: ctx.options.probeTimeoutMs,
        clock: ctx.clock,
      });
      if (seen.kind === "idle") break;
      last = seen.kind === "busy" ? seen.activeTurns : null;
      if (timedOut()) throw stillBusy(verb, idleTimeoutMs, last);
      await ctx.clock.sleep(IDLE_WAIT_POLL_MS);
    }
    const tried = await attempt();
    if (tried.done) {
      return {
        value: tried.value,
        report: {
          waitedForIdle: {
            seconds: Math.round((ctx.clock.now() - started) / 1000),
            activeTurnsAtStart: atStart,
          },
          warnings: [],
        },
      };
    }
    last = tried.hold.activeTurns ?? null;
    if (timedOut()) throw stillBusy(verb, idleTimeoutMs, last);
    await ctx.clock.sleep(IDLE_WAIT_POLL_MS);
  }
}

/**
 * How `stop` and `restart` end a server that may run turns, in one place:
 * with `whenIdle`, wait unlocked until it looks idle and let each attempt
 * confirm under `daemon.lock` through the gate ({@linkcode untilIdle}); else
 * count the running turns alongside taking the lock (for the result's
 * warning) and go at once. `attempt` takes the lock itself, once per try.
 */
export async function endTurnSafely<T extends object>(
  ctx: DaemonContext,
  verb: "stop" | "restart",
  options: WhenIdleOptions & { whenIdle?: boolean },
  attempt: (
    mode: "now" | "whenIdle",
    counting?: Promise<TurnReport>,
  ) => Promise<IdleAttempt<T>>,
): Promise<T> {
  if (options.whenIdle) {
    const { value, report } = await untilIdle(ctx, verb, options, () => attempt("whenIdle"));
    return { ...value, ...turnFields(report) };
  }
  const counting = countTurnsBeforeStop(ctx, verb);
  counting.catch(() => {}); // handled where awaited; never an unhandled rejection meanwhile
  const tried = await attempt("now", counting);
  if (!tried.done) throw new Error(`a ${verb} now is never held`); // decideGate: "now" proceeds
  return tried.value;
}
