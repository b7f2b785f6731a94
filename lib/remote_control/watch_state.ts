/**
 * `remote-control-state.json` in the state directory: what the remote-control
 * watchdog and `status` know about the server's remote-control state over
 * time — the state last seen and since when (`since`), and the reconnects
 * the watchdog made. Written atomically; a missing or unreadable file reads
 * as nothing known.
 *
 * @module
 */
import { readTextIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import { type DaemonPaths, join } from "../state/paths.ts";

/** The file's name in the state directory. */
export const WATCH_STATE_FILE = "remote-control-state.json";

/** What is remembered about remote control between passes. */
export interface RemoteControlWatchState {
  /** The status last seen (`connected`, `errored`, …), or `null`. */
  status: string | null;
  /** When that status was first seen (ISO), or `null`. */
  since: string | null;
  /** When the watchdog last switched remote control off and on (ISO), or `null`. */
  lastReconnect: string | null;
  /** Reconnects made by the watchdog, ever. */
  reconnects: number;
  /** Reconnects since the server was last seen `connected` (drives the backoff). */
  attempts: number;
}

/** Nothing known yet. */
export function emptyWatchState(): RemoteControlWatchState {
  return { status: null, since: null, lastReconnect: null, reconnects: 0, attempts: 0 };
}

/** The file's path. */
export function watchStatePath(paths: Pick<DaemonPaths, "stateDir">): string {
  return join(paths.stateDir, WATCH_STATE_FILE);
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}

/** Reads the state; anything missing or malformed reads as nothing known. */
export async function readWatchState(
  paths: Pick<DaemonPaths, "stateDir">,
): Promise<RemoteControlWatchState> {
  try {
    const text = await readTextIfPresent(watchStatePath(paths));
    if (text === undefined) return emptyWatchState();
    const raw = JSON.parse(text) as Record<string, unknown>;
    return {
      status: str(raw.status),
      since: str(raw.since),
      lastReconnect: str(raw.lastReconnect),
      reconnects: count(raw.reconnects),
      attempts: count(raw.attempts),
    };
  } catch {
    return emptyWatchState();
  }
}

/** Writes the state atomically. */
export async function writeWatchState(
  paths: Pick<DaemonPaths, "stateDir">,
  state: RemoteControlWatchState,
): Promise<void> {
  await writeFileAtomic(watchStatePath(paths), JSON.stringify(state) + "\n");
}

/**
 * Folds one observation in: a new status starts a new `since`; the same
 * status keeps it. `connected` clears the backoff's attempt count. Pure.
 */
export function observe(
  state: RemoteControlWatchState,
  status: string,
  now: Date,
): RemoteControlWatchState {
  const changed = state.status !== status || state.since === null;
  return {
    ...state,
    status,
    since: changed ? now.toISOString() : state.since,
    attempts: status === "connected" ? 0 : state.attempts,
  };
}

/** What `status` adds to the server's remote-control view. */
export interface WatchReport {
  /** Since when the current status holds (ISO), as first seen by `status` or the watchdog. */
  since: string | null;
  /** How long the current status has lasted, in seconds. */
  sinceSeconds: number | null;
  /** When the watchdog last switched remote control off and on (ISO), or `null`. */
  lastReconnect: string | null;
  /** Reconnects the watchdog made, ever. */
  reconnects: number;
}

/**
 * Folds `status`'s observation into the file (written only when the status
 * changed: one small atomic write, never on the steady path) and returns what
 * `status` reports. Never throws.
 */
export async function reportWatch(
  paths: Pick<DaemonPaths, "stateDir">,
  status: string,
  now: Date,
): Promise<WatchReport> {
  const recorded = await readWatchState(paths);
  const next = observe(recorded, status, now);
  if (next.since !== recorded.since || next.status !== recorded.status) {
    await writeWatchState(paths, next).catch(() => {});
  }
  const sinceMs = next.since ? Date.parse(next.since) : Number.NaN;
  return {
    since: next.since,
    sinceSeconds: Number.isNaN(sinceMs)
      ? null
      : Math.max(0, Math.round((now.getTime() - sinceMs) / 1000)),
    lastReconnect: next.lastReconnect,
    reconnects: next.reconnects,
  };
}
