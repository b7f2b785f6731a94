/**
 * The turn-safety gate: the one way codexd ends an app-server that may be
 * running turns. Every path that stops or restarts a managed app-server —
 * `stop`, `restart`, `update`, `apply-pending`, the remote-control restart
 * seam (and through it `bootstrap` and `enable-autostart`) — runs inside
 * {@linkcode throughGate} and signals only through the pass it hands out;
 * nothing else in `lib/` calls `terminateRecorded` on an app-server
 * (`tests/idle/gate_test.ts` checks that over the source). The rules, in one place:
 *
 * 1. **Under the lock, immediately before the signal.** The caller opens the
 *    gate (a {@linkcode GateOpener}) right before it stops: the observation
 *    and the SIGTERM are never separated by a wait or a lock release.
 * 2. **"Cannot tell" is never "idle".** A live recorded process that does
 *    not answer is held (never signalled), unless a user asked to stop now.
 * 3. **The deadline comes from the current settings** at every decision,
 *    counted on the boot clock so a wall-clock step forces nothing early
 *    (`elapsedSinceDeferral` in `policy.ts`).
 * 4. **A pending restart is revalidated** against what runs now and dropped
 *    when moot ({@linkcode mootReason}).
 *
 * (Rule 5, "nothing pending without a process that applies it", is kept
 * where pending restarts are written: `updater/deferred_restart.ts`.)
 *
 * The decisions ({@linkcode decideGate}, {@linkcode mootReason}) are pure
 * and tested by tables; the runner is thin. Touches the pid records
 * (removed after a stop) and the process it signals.
 *
 * @module
 */
import { sameVersion } from "../versions.ts";
import type { Clock } from "../clock.ts";
import type { DaemonContext } from "../server/context.ts";
import { holdsDaemonLock } from "../state/daemon_lock.ts";
import { CodexdError } from "../errors.ts";
import type { PidState } from "../process/pid_record.ts";
import { readBootId } from "../process/process_identity.ts";
import { unverifiable } from "../server/result.ts";
import { readServerState, removeServerRecords } from "../server/server_record.ts";
import { type DaemonSettings, loadSettingsLenient } from "../state/settings.ts";
import { terminateRecorded } from "../process/terminate.ts";
import {
  anchorAt,
  type ClockReading,
  deadlineAt,
  deadlineMs,
  type DeferralAnchor,
  elapsedSinceDeferral,
  type IdleObservation,
  inWindow,
  type RestartPolicy,
  type WaitingFor,
} from "./policy.ts";
import { interruptActiveTurns, type InterruptedTurn, observeIdle } from "./probe.ts";

/**
 * Why the server is being ended: `now` (a user's plain `stop`/`restart`,
 * `update --now`: the drain, then the grace), `whenIdle` (a user's
 * `--when-idle`: only when idle, never forced), `deferred` (updates,
 * pending restarts, new launch flags: idle, else wait — past the deadline,
 * interrupt the turns first — inside the maintenance window).
 */
export type GateMode = "now" | "whenIdle" | "deferred";

/** What the gate saw of the server right before it would end it. */
export type ServerSight =
  /** No live recorded app-server: nothing to cut short. */
  | { kind: "none" }
  /** Not asked: a stop now, or a closed window. */
  | { kind: "unobserved" }
  /** Two probes a few seconds apart saw no running turn. */
  | { kind: "idle" }
  /** Turns run. */
  | { kind: "busy"; activeTurns: number }
  /** A live recorded process that does not answer: turns may run. */
  | { kind: "cannotTell" };

/** The input of {@linkcode decideGate}. */
export interface GateState {
  /** Why the server is being ended. */
  mode: GateMode;
  /** What was seen. */
  sight: ServerSight;
  /** `deferred`: time since the restart was first deferred (boot clock); 0 the first time. */
  elapsedMs?: number;
}

/** A decision that keeps the server running. */
export type GateHold = { kind: "hold"; waitingFor: WaitingFor; activeTurns?: number };

/** What the gate does. */
export type GateDecision =
  | { kind: "proceed" }
  | { kind: "interruptThenProceed"; activeTurns: number }
  | GateHold;

/**
 * Decides whether a server may be ended now. Pure.
 *
 * - Nothing live, or a user's stop now: proceed.
 * - `deferred` outside the maintenance window: hold (the forced one too).
 * - Idle: proceed. Cannot tell: hold (`answer`), whatever the deadline —
 *   there is no turn codexd could interrupt and save.
 * - Busy: hold; `deferred` past the deadline of the *current* policy:
 *   interrupt the turns, then proceed.
 */
export function decideGate(state: GateState, policy: RestartPolicy, now: Date): GateDecision {
  const { mode, sight } = state;
  if (mode === "now" || sight.kind === "none") return { kind: "proceed" };
  if (mode === "deferred" && !inWindow(policy.restartWindow, now)) {
    return { kind: "hold", waitingFor: "window" };
  }
  switch (sight.kind) {
    case "idle":
      return { kind: "proceed" };
    case "unobserved":
    case "cannotTell":
      return { kind: "hold", waitingFor: "answer" };
    case "busy": {
      const limit = deadlineMs(policy);
      if (mode === "deferred" && limit !== undefined && (state.elapsedMs ?? 0) >= limit) {
        return { kind: "interruptThenProceed", activeTurns: sight.activeTurns };
      }
      return { kind: "hold", waitingFor: "activeTurns", activeTurns: sight.activeTurns };
    }
  }
}

/** Reads the wall and boot clocks. */
export function readClock(clock: Clock): ClockReading {
  let bootId: string | undefined;
  try {
    bootId = readBootId();
  } catch {
    // not Linux: the wall clock only
  }
  return { wallMs: clock.now(), uptimeMs: clock.uptimeMs?.(), bootId };
}

/** What runs now, for {@linkcode mootReason}. */
export interface RunningFacts {
  /** A live recorded app-server exists. */
  alive: boolean;
  /** The version it reports (when it answers). */
  runningVersion?: string;
  /** The managed binary's version: what a restart would launch. */
  managedVersion?: string;
  /** Its launch flags match the settings. */
  flagsMatch: boolean;
  /** It was launched after the restart was first deferred (e.g. a manual stop + start). */
  launchedAfterDeferral: boolean;
}

/**
 * Why a pending restart no longer applies, or `undefined` when it still
 * does. Pure. An update is moot once the server runs what a restart would
 * launch; a launch-flags restart once a server launched after the deferral
 * carries the wanted flags.
 */
export function mootReason(
  pending: { kind?: "update" | "restart"; toVersion: string | null },
  running: RunningFacts,
): string | undefined {
  if (!running.alive) return "no app-server running";
  if ((pending.kind ?? "update") === "restart") {
    return running.launchedAfterDeferral && running.flagsMatch
      ? "the app-server was relaunched with the wanted launch flags"
      : undefined;
  }
  const target = running.managedVersion ?? pending.toVersion ?? undefined;
  return running.runningVersion !== undefined && sameVersion(running.runningVersion, target)
    ? `already serving ${target}`
    : undefined;
}

/** The one-use right to end the server the gate looked at. */
export interface GatePass {
  /**
   * Ends the recorded app-server (SIGTERM, the grace, SIGKILL; removes its
   * records); `target` overrides the record (`stop --force` on an owner no
   * record names). Returns whether a process was stopped. Once per pass.
   */
  end(target?: PidState): Promise<boolean>;
}

/** Asks the gate, right before a stop. Throws a hold (caught by {@linkcode throughGate}). */
export type GateOpener = () => Promise<GatePass>;

/** What one ask of the gate needs. */
export interface GateRequest {
  /** Why the server is being ended. */
  mode: GateMode;
  /** `deferred`: when the restart was first deferred (absent: now). */
  anchor?: DeferralAnchor;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
  /** Injected observation (tests); the socket is probed otherwise. */
  observe?: () => Promise<IdleObservation>;
  /** Called with the turns ended past the deadline (and that deadline), before the stop. */
  onInterrupt?: (turns: InterruptedTurn[], deadline: string | null) => Promise<void>;
}

/** What {@linkcode throughGate} did. */
export type GateResult<T> =
  | {
    passed: true;
    result: T;
    decision: GateDecision;
    sight: ServerSight;
    interrupted: InterruptedTurn[];
  }
  | {
    passed: false;
    hold: GateHold;
    sight: ServerSight;
    /** `deferred`: the wall time it would force at under the current policy. */
    deadline: string | null;
  };

class Held extends Error {
  constructor(readonly hold: GateHold, readonly deadline: string | null) {
    super("held by the turn-safety gate");
  }
}

function internal(why: string): CodexdError {
  return new CodexdError("INTERNAL", `Turn-safety gate misused: ${why}`);
}

/**
 * Runs `act` with the only way to end the server. `act` does what it must
 * before (checks, preparing the next launch), then calls the opener right
 * before it stops; the gate reads the current settings and the pid record,
 * looks at the server per `request.mode` and decides. A hold unwinds `act`
 * (it must let errors pass; cleanup in `finally`/catch-rethrow is fine) and
 * comes back as `passed: false`; nothing was signalled. Call under
 * `daemon.lock`.
 *
 * @throws {CodexdError} `INTERNAL` without the lock; whatever `act` throws.
 */
export async function throughGate<T>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  request: GateRequest,
  act: (open: GateOpener) => Promise<T>,
): Promise<GateResult<T>> {
  if (!holdsDaemonLock(ctx.paths.lockFile)) throw internal("called without daemon.lock");
  let decision: GateDecision = { kind: "proceed" };
  let sight: ServerSight = { kind: "unobserved" };
  let interrupted: InterruptedTurn[] = [];
  let opened = false;
  const open: GateOpener = async () => {
    if (opened) throw internal("opened twice in one pass");
    opened = true;
    if (!holdsDaemonLock(ctx.paths.lockFile)) throw internal("opened without daemon.lock");
    const state = await readServerState(ctx.paths);
    if (request.mode === "now") {
      // A user's stop now: nothing to ask (keeps the hot path of `stop` short).
      sight = state.kind === "running" ? { kind: "unobserved" } : { kind: "none" };
    } else {
      // The deadline and window of the settings as they are now, not as they were.
      const policy = restartPolicy(await loadSettingsLenient(ctx.paths));
      const now = readClock(ctx.clock);
      sight = await look(ctx, state, request, policy, now);
      const anchor = request.anchor ?? anchorAt(now);
      decision = decideGate(
        { mode: request.mode, sight, elapsedMs: elapsedSinceDeferral(anchor, now) },
        policy,
        new Date(now.wallMs),
      );
      if (decision.kind === "hold") throw new Held(decision, deadlineAt(anchor, now, policy));
      if (decision.kind === "interruptThenProceed") {
        interrupted = await interruptActiveTurns(ctx).catch(() => []);
        await request.onInterrupt?.(interrupted, deadlineAt(anchor, now, policy));
      }
    }
    let ended = false;
    return {
      end: async (target: PidState = state): Promise<boolean> => {
        if (ended) throw internal("a pass ends one server");
        ended = true;
        return await endServer(ctx, target, settings);
      },
    };
  };
  try {
    const result = await act(open);
    return { passed: true, result, decision, sight, interrupted };
  } catch (error) {
    if (error instanceof Held) {
      return { passed: false, hold: error.hold, sight, deadline: error.deadline };
    }
    throw error;
  }
}

/** The restart policy in `settings`. */
export function restartPolicy(settings: DaemonSettings): RestartPolicy {
  return {
    restartDeadlineMinutes: settings.updater.restartDeadlineMinutes,
    ...(settings.updater.restartWindow ? { restartWindow: settings.updater.restartWindow } : {}),
  };
}

async function look(
  ctx: DaemonContext,
  state: PidState,
  request: GateRequest,
  policy: RestartPolicy,
  now: ClockReading,
): Promise<ServerSight> {
  if (state.kind !== "running") return { kind: "none" };
  // A closed window holds whatever the server does: keep frequent passes cheap.
  if (request.mode === "deferred" && !inWindow(policy.restartWindow, new Date(now.wallMs))) {
    return { kind: "unobserved" };
  }
  const observed = await (request.observe ?? (() =>
    observeIdle(ctx.paths.socketPath, {
      gapMs: request.idleGapMs,
      timeoutMs: ctx.options.probeTimeoutMs,
      clock: ctx.clock,
    })))();
  // The record says the process lives: silence means "cannot tell", never "idle".
  return observed.kind === "unreachable" ? { kind: "cannotTell" } : observed;
}

/**
 * Stops the recorded app-server (if any): the grace from the options or
 * settings, then SIGKILL; removes the records. Only the gate's pass calls it.
 */
async function endServer(
  ctx: DaemonContext,
  state: PidState,
  settings: DaemonSettings,
): Promise<boolean> {
  switch (state.kind) {
    case "missing":
      return false;
    case "stale":
      await removeServerRecords(ctx.paths);
      return false;
    case "unverifiable":
      throw unverifiable(ctx, state);
    case "running": {
      const graceSeconds = ctx.options.graceSeconds ?? settings.shutdownGraceSeconds;
      // A negative grace (NO_GRACE_LIMIT) waits for the drain however long the turns take.
      const graceMs = graceSeconds < 0 ? Infinity : graceSeconds * 1000;
      await terminateRecorded(state.record, {
        graceMs,
        clock: ctx.clock,
        allowedUids: ctx.signallableUids,
        launchedFor: ctx.launchedFor,
      });
      await removeServerRecords(ctx.paths);
      return true;
    }
  }
}
