/**
 * The one rule for restarts that could cut a turn short (updates, pending
 * restarts, flag changes): restart when the app-server is idle, else leave a
 * pending restart that the updater applies once it is idle, inside the
 * maintenance window, or — past the deadline — after interrupting the turns.
 *
 * Call under `daemon.lock`. The restart itself is a callback, so update's
 * rollback and a plain settings restart share the rule. Files: see
 * `pending.ts`.
 *
 * @module
 */
import type { DaemonContext } from "../context.ts";
import type { DaemonSettings } from "../settings.ts";
import { describeError } from "../errors.ts";
import {
  deadlineFor,
  decidePendingRestart,
  type IdleObservation,
  inWindow,
  type PendingDecision,
  type PendingRestart,
  type RestartPolicy,
} from "./policy.ts";
import { interruptActiveTurns, type InterruptedTurn, observeIdle } from "./probe.ts";
import {
  clearPendingRestart,
  logRestartEvent,
  publicPending,
  readPendingRestart,
  type StoredPendingRestart,
  writePendingRestart,
} from "./pending.ts";

/** The restart policy in `settings`. */
export function restartPolicy(settings: DaemonSettings): RestartPolicy {
  return {
    restartDeadlineMinutes: settings.updater.restartDeadlineMinutes,
    ...(settings.updater.restartWindow ? { restartWindow: settings.updater.restartWindow } : {}),
  };
}

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
  };

/** Stored pending restarts carry the intent's kind so `apply-pending` knows what to run. */
export type StoredIntent = StoredPendingRestart & {
  kind?: RestartIntent["kind"];
  binaryPath?: string;
};

/**
 * Applies the rule once. Restarts via `restart()` when idle (or forced),
 * clearing any pending restart; otherwise writes or refreshes the pending
 * restart and logs the deferral (once per change of what it waits for).
 */
export async function restartOrDefer<T>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  intent: RestartIntent,
  restart: () => Promise<T>,
  options: RestartOrDeferOptions = {},
): Promise<RestartOrDeferOutcome<T>> {
  const { paths } = ctx;
  const nowMs = ctx.clock.now();
  const policy = restartPolicy(settings);
  const existing = await readPendingRestart(paths) as StoredIntent | undefined;
  const since = existing?.since ?? new Date(nowMs).toISOString();
  const deadline = existing ? existing.deadline : deadlineFor(nowMs, policy);
  let decision: PendingDecision;
  let observed: IdleObservation | undefined;
  if (options.now) {
    decision = { kind: "apply" };
  } else if (!inWindow(policy.restartWindow, new Date(nowMs))) {
    // Closed window: nothing to learn from the server (keeps frequent passes cheap).
    decision = { kind: "wait", waitingFor: "window" };
  } else {
    observed = await (options.observe ?? (() =>
      observeIdle(paths.socketPath, { gapMs: options.idleGapMs, clock: ctx.clock })))();
    decision = decidePendingRestart({ deadline }, observed, policy, nowMs);
  }
  if (decision.kind === "wait") {
    const pending: StoredIntent = {
      kind: intent.kind,
      toVersion: intent.toVersion,
      since,
      deadline,
      reason: intent.reason,
      waitingFor: decision.waitingFor,
      ...(intent.binaryPath !== undefined ? { binaryPath: intent.binaryPath } : {}),
      ...(intent.previousRelease !== undefined
        ? { previousRelease: intent.previousRelease, previousVersion: intent.previousVersion }
        : existing?.previousRelease !== undefined
        ? { previousRelease: existing.previousRelease, previousVersion: existing.previousVersion }
        : {}),
    };
    await writePendingRestart(paths, pending);
    const activeTurns = observed?.kind === "busy" ? observed.activeTurns : undefined;
    if (
      existing === undefined || existing.waitingFor !== decision.waitingFor ||
      existing.toVersion !== intent.toVersion
    ) {
      const why = decision.waitingFor === "window"
        ? `outside restart window ${policy.restartWindow}`
        : `${activeTurns} active turn${activeTurns === 1 ? "" : "s"}`;
      await logRestartEvent(
        paths,
        nowMs,
        `restart deferred (${intent.reason}): ${why}; deadline ${deadline ?? "none"}`,
      );
    }
    return {
      restarted: false,
      pendingRestart: publicPending(pending),
      ...(activeTurns !== undefined ? { activeTurns } : {}),
    };
  }
  let interrupted: InterruptedTurn[] = [];
  if (decision.kind === "forceAfterInterrupt") {
    interrupted = await interruptActiveTurns(paths.socketPath).catch(() => []);
    await logRestartEvent(
      paths,
      nowMs,
      `restart deadline ${deadline} passed (${intent.reason}): interrupted ${interrupted.length} turn${
        interrupted.length === 1 ? "" : "s"
      }${interrupted.map((t) => ` ${t.threadId}/${t.turnId}`).join("")}`,
    );
  }
  try {
    const result = await restart();
    await clearPendingRestart(paths);
    const how = options.now
      ? "at once (--now)"
      : decision.kind === "forceAfterInterrupt"
      ? "after interrupting"
      : observed?.kind === "unreachable"
      ? "(app-server not answering)"
      : "(idle)";
    await logRestartEvent(paths, ctx.clock.now(), `restart applied ${how}: ${intent.reason}`);
    return { restarted: true, result, interrupted };
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
}
