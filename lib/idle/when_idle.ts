/**
 * What a user's `stop` / `restart` learns about running turns before it
 * acts: with `--when-idle` it waits (bounded) until two probes a few seconds
 * apart see no active turn; without it, it reports `activeTurns` and a
 * warning so a client sees what the stop is about to cut short. Reads
 * `settings.json` (the grace, for the warning); writes nothing; takes no lock
 * (waiting must not block other commands).
 *
 * @module
 */
import type { DaemonContext } from "../context.ts";
import { CodexdError } from "../errors.ts";
import { loadSettingsLenient } from "../settings.ts";
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Looks at the running app-server's turns before a user stop or restart.
 *
 * @throws {CodexdError} `STILL_BUSY` when `whenIdle` waited its whole bound.
 */
export async function checkTurnsBeforeStop(
  ctx: DaemonContext,
  verb: "stop" | "restart",
  options: WhenIdleOptions,
): Promise<TurnReport> {
  const first = await readServerTurns(ctx.paths.socketPath);
  const atStart = first.activeTurns ?? 0;
  if (options.whenIdle) {
    const { idleTimeoutMs = IDLE_WAIT_TIMEOUT_MS } = options;
    const started = ctx.clock.now();
    let last = atStart;
    while (true) {
      const seen = await observeIdle(ctx.paths.socketPath, {
        gapMs: options.idleGapMs,
        clock: ctx.clock,
      });
      if (seen.kind !== "busy") break;
      last = seen.activeTurns;
      if (ctx.clock.now() - started >= idleTimeoutMs) {
        throw new CodexdError(
          "STILL_BUSY",
          `Not ${verb === "stop" ? "stopping" : "restarting"}: ${
            plural(last, "turn")
          } still running after waiting ${Math.round(idleTimeoutMs / 1000)} s`,
          `codexd ${verb} --when-idle --idle-timeout-seconds ${
            Math.max(60, Math.round((2 * idleTimeoutMs) / 1000))
          }`,
          { activeTurns: last },
        );
      }
      await ctx.clock.sleep(IDLE_WAIT_POLL_MS);
    }
    return {
      waitedForIdle: {
        seconds: Math.round((ctx.clock.now() - started) / 1000),
        activeTurnsAtStart: atStart,
      },
      warnings: [],
    };
  }
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
