/**
 * The vocabulary of restarts that could cut running turns short (the
 * pending restart, the policy, what the probe saw) and the pure window and
 * deadline arithmetic — the deadline counted on the boot clock
 * ({@linkcode elapsedSinceDeferral}). The decision itself is `decideGate`
 * in `gate.ts`.
 * No I/O; tested by tables in `tests/idle/policy_test.ts`.
 *
 * @module
 */

/** A restart codexd owes the app-server but has not done yet (`pending-restart.json`). */
export interface PendingRestart {
  /** The version the restart moves to (`null` when the restart is for settings, not a release). */
  toVersion: string | null;
  /** ISO time the restart was first deferred; a later release keeps it. */
  since: string;
  /** ISO time after which active turns are interrupted; `null`: never forced. */
  deadline: string | null;
  /** Why a restart is wanted, e.g. `update 0.166.0 -> 0.169.0`. */
  reason: string;
  /**
   * What it waits for right now: `activeTurns` (running turns to end),
   * `window` (the maintenance window to open) or `answer` (a live app-server
   * that does not answer: codexd cannot tell whether turns run).
   */
  waitingFor?: "activeTurns" | "window" | "answer";
  /**
   * Who applies it: `updater` (the home's updater loop) or `applier` (a
   * small loop codexd starts for a home without an updater, which exits
   * once nothing is pending).
   */
  appliedBy?: "updater" | "applier";
}

/** What a held restart waits for (see {@linkcode PendingRestart.waitingFor}). */
export type WaitingFor = NonNullable<PendingRestart["waitingFor"]>;

/** The settings that bound a pending restart. */
export interface RestartPolicy {
  /** Minutes a pending restart may wait for idle; `0`: wait forever. */
  restartDeadlineMinutes: number;
  /** Local-time window such as `02:00-05:00` (may wrap midnight); absent: any time. */
  restartWindow?: string;
}

/** What the idle probe saw. */
export type IdleObservation =
  /** Two probes a few seconds apart both saw no active turn. */
  | { kind: "idle" }
  /** At least one probe saw running turns. */
  | { kind: "busy"; activeTurns: number }
  /**
   * Nothing answers on the socket. Not "idle": a live process that does not
   * answer may still run turns (see `gate.ts`).
   */
  | { kind: "unreachable" };

/** A parsed `HH:MM-HH:MM` window, in minutes after local midnight. */
export interface RestartWindow {
  /** Opening minute (inclusive). */
  startMinute: number;
  /** Closing minute (exclusive); below `startMinute` when it wraps midnight. */
  endMinute: number;
}

const WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

/** Parses `HH:MM-HH:MM` (24 h, local time); returns why it is invalid otherwise. */
export function parseWindow(text: string): RestartWindow | string {
  const match = WINDOW.exec(text.trim());
  if (match === null) return `restart window must look like "02:00-05:00", got "${text}"`;
  const startMinute = Number(match[1]) * 60 + Number(match[2]);
  const endMinute = Number(match[3]) * 60 + Number(match[4]);
  if (startMinute === endMinute) return `restart window "${text}" is empty`;
  return { startMinute, endMinute };
}

/** Whether `date` (in the host's local time) falls in `window`; no window means always. */
export function inWindow(window: string | undefined, date: Date): boolean {
  if (window === undefined) return true;
  const parsed = parseWindow(window);
  if (typeof parsed === "string") return true; // validated at load; never block on a typo
  const minute = date.getHours() * 60 + date.getMinutes();
  const { startMinute, endMinute } = parsed;
  return startMinute < endMinute
    ? minute >= startMinute && minute < endMinute
    : minute >= startMinute || minute < endMinute;
}

/** The deadline of a restart first deferred at `sinceMs`; `null` when the policy never forces. */
export function deadlineFor(sinceMs: number, policy: RestartPolicy): string | null {
  if (policy.restartDeadlineMinutes <= 0) return null;
  return new Date(sinceMs + policy.restartDeadlineMinutes * 60_000).toISOString();
}

/** Milliseconds a deferred restart may wait for idle under `policy`; `undefined`: forever. */
export function deadlineMs(policy: RestartPolicy): number | undefined {
  return policy.restartDeadlineMinutes > 0 ? policy.restartDeadlineMinutes * 60_000 : undefined;
}

/** When a restart was first deferred: the wall time, and the boot clock where there is one. */
export interface DeferralAnchor {
  /** ISO wall time (shown as `since`). */
  since: string;
  /** Milliseconds since boot at `since`. */
  sinceUptimeMs?: number;
  /** The boot those were read in. */
  bootId?: string;
}

/** One reading of the clocks. */
export interface ClockReading {
  /** Wall clock, ms since the epoch. */
  wallMs: number;
  /** Boot clock, ms since boot. */
  uptimeMs?: number;
  /** This boot's id. */
  bootId?: string;
}

/** The anchor of a restart deferred at `now`. */
export function anchorAt(now: ClockReading): DeferralAnchor {
  return {
    since: new Date(now.wallMs).toISOString(),
    ...(now.uptimeMs !== undefined && now.bootId !== undefined
      ? { sinceUptimeMs: now.uptimeMs, bootId: now.bootId }
      : {}),
  };
}

/**
 * How long a restart has been deferred. Pure. Within one boot it counts on
 * the boot clock, so a wall-clock step (NTP, a VM resumed, an admin's
 * `date -s`) neither forces an interrupt early nor delays it; across a
 * reboot, or without a boot clock (macOS), it falls back to the wall clock.
 * Never negative.
 */
export function elapsedSinceDeferral(anchor: DeferralAnchor, now: ClockReading): number {
  if (
    anchor.sinceUptimeMs !== undefined && now.uptimeMs !== undefined &&
    anchor.bootId !== undefined && anchor.bootId === now.bootId
  ) {
    return Math.max(0, now.uptimeMs - anchor.sinceUptimeMs);
  }
  const since = Date.parse(anchor.since);
  return Number.isFinite(since) ? Math.max(0, now.wallMs - since) : 0;
}

/** The wall time a deferred restart will force at under `policy` (shown as `deadline`); `null`: never. */
export function deadlineAt(
  anchor: DeferralAnchor,
  now: ClockReading,
  policy: RestartPolicy,
): string | null {
  const limit = deadlineMs(policy);
  if (limit === undefined) return null;
  return new Date(now.wallMs + limit - elapsedSinceDeferral(anchor, now)).toISOString();
}
