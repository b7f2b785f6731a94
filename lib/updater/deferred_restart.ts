/**
 * The rule for restarts that could cut a turn short (updates, pending
 * restarts, new launch flags): through the turn-safety gate (`idle/gate.ts`) in
 * its `deferred` mode — restart when the app-server is idle, else leave a
 * pending restart that is applied once it is idle, inside the maintenance
 * window, or — past the deadline — after interrupting the turns. A server
 * that does not answer is held, never restarted blind.
 *
 * Whatever it leaves pending has a process that will apply it
 * (`applier.ts`): the updater, or the pending-restart applier.
 *
 * Call under `daemon.lock`. The restart itself is a callback that opens the
 * gate right before it stops, so update's rollback and a plain settings
 * restart share the rule. Files: see `idle/pending.ts`.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { describeError } from "../errors.ts";
import type { IdleObservation, PendingRestart } from "../idle/policy.ts";
import type { InterruptedTurn } from "../idle/probe.ts";
import { type GateOpener, readClock, throughGate } from "../idle/gate.ts";
import { anchorAt, type DeferralAnchor } from "../idle/policy.ts";
import { ensurePendingApplier } from "./applier.ts";
import {
  clearPendingRestart,
  logRestartEvent,
  publicPending,
  readPendingRestart,
  type StoredPendingRestart,
  writePendingRestart,
} from "../idle/pending.ts";

export { restartPolicy } from "../idle/gate.ts";

/** What a restart wants to be, if it has to wait. */
export interface RestartIntent {
  /** `update`: onto a new release (with rollback); `restart`: same binary, current settings. */
  kind: "update" | "restart";
  /** The version the restart moves to, or `null`. */
  toVersion: string | null;
  /** Why, for the log and `status`, e.g. `update 0.166.0 -> 0.169.0`. */
  reason: string;
  /** For `update`: the release to roll back to. */
  previousRelease?: string;
  /** For `update`: its version. */
  previousVersion?: string | null;
  /**
   * For `restart`: launch this binary instead of the configured one (an
   * out-of-band upgrade of a binary codexd does not configure, e.g. the
   * reference's package).
   */
  binaryPath?: string;
}

/** Options for {@linkcode restartOrDefer}. */
export interface RestartOrDeferOptions {
  /** Restart at once, busy or not (`update --now`). @default {false} */
  now?: boolean;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
  /** Injected observation (tests); the socket is probed otherwise. */
  observe?: () => Promise<IdleObservation>;
}

/** What {@linkcode restartOrDefer} did. */
export type RestartOrDeferOutcome<T> =
  | { restarted: true; result: T; interrupted: InterruptedTurn[] }
  | {
    restarted: false;
    pendingRestart: PendingRestart;
    activeTurns?: number;
    /** Non-fatal problems (no process could be started to apply it). */
    warnings?: string[];
  };

/** Stored pending restarts carry the intent's kind so `apply-pending` knows what to run. */
export type StoredIntent = StoredPendingRestart & {
  kind?: RestartIntent["kind"];
  binaryPath?: string;
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Applies the rule once. Restarts via `restart(open)` when the gate lets it
 * (clearing any pending restart); otherwise writes or refreshes the pending
 * restart, logs the hold (once per change of what it waits for) and makes
 * sure a process will apply it.
 */
export async function restartOrDefer<T>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  intent: RestartIntent,
  restart: (open: GateOpener) => Promise<T>,
  options: RestartOrDeferOptions = {},
): Promise<RestartOrDeferOutcome<T>> {
  const { paths } = ctx;
  const existing = await readPendingRestart(paths) as StoredIntent | undefined;
  // A later intent replaces the pending one but keeps when the wait began.
  const anchor: DeferralAnchor = existing ?? anchorAt(readClock(ctx.clock));
  let gate;
  try {
    gate = await throughGate(ctx, settings, {
      mode: options.now ? "now" : "deferred",
      anchor,
      idleGapMs: options.idleGapMs,
      observe: options.observe,
      onInterrupt: (turns, deadline) =>
        logRestartEvent(
          paths,
          ctx.clock.now(),
          `restart deadline ${deadline} passed (${intent.reason}): interrupted ${
            plural(turns.length, "turn")
          }${turns.map((t) => ` ${t.threadId}/${t.turnId}`).join("")}`,
        ),
    }, restart);
  } catch (error) {
    await logRestartEvent(
      paths,
      ctx.clock.now(),
      `restart failed (${intent.reason}): ${describeError(error).split("\n")[0]}`,
    );
    // The restart's own code decided what runs now (rollback or not): nothing is pending.
    await clearPendingRestart(paths);
    throw error;
  }
  if (!gate.passed) {
    const { hold } = gate;
    const applier = await ensurePendingApplier(ctx, settings);
    const pending: StoredIntent = {
      kind: intent.kind,
      toVersion: intent.toVersion,
      since: anchor.since,
      ...(anchor.sinceUptimeMs !== undefined
        ? { sinceUptimeMs: anchor.sinceUptimeMs, bootId: anchor.bootId }
        : {}),
      deadline: gate.deadline,
      reason: intent.reason,
      waitingFor: hold.waitingFor,
      appliedBy: applier.appliedBy,
      ...(intent.binaryPath !== undefined ? { binaryPath: intent.binaryPath } : {}),
      ...(intent.previousRelease !== undefined
        ? { previousRelease: intent.previousRelease, previousVersion: intent.previousVersion }
        : existing?.previousRelease !== undefined
        ? { previousRelease: existing.previousRelease, previousVersion: existing.previousVersion }
        : {}),
    };
    await writePendingRestart(paths, pending);
    if (
      existing === undefined || existing.waitingFor !== hold.waitingFor ||
      existing.toVersion !== intent.toVersion || existing.reason !== intent.reason
    ) {
      const why = hold.waitingFor === "window"
        ? `outside restart window ${settings.updater.restartWindow}`
        : hold.waitingFor === "answer"
        ? "the app-server does not answer, so codexd cannot tell whether turns run"
        : plural(hold.activeTurns ?? 0, "active turn");
      await logRestartEvent(
        paths,
        ctx.clock.now(),
        `restart deferred (${intent.reason}): ${why}; deadline ${
          gate.deadline ?? "none"
        }; applied by the ${applier.appliedBy}`,
      );
    }
    return {
      restarted: false,
      pendingRestart: publicPending(pending),
      ...(hold.activeTurns !== undefined ? { activeTurns: hold.activeTurns } : {}),
      ...(applier.warning ? { warnings: [applier.warning] } : {}),
    };
  }
  await clearPendingRestart(paths);
  const how = options.now
    ? "at once (--now)"
    : gate.decision.kind === "interruptThenProceed"
    ? "after interrupting"
    : gate.sight.kind === "none"
    ? "(no app-server was running)"
    : "(idle)";
  await logRestartEvent(paths, ctx.clock.now(), `restart applied ${how}: ${intent.reason}`);
  return { restarted: true, result: gate.result, interrupted: gate.interrupted };
}
