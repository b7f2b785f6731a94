/**
 * Asking a running app-server whether it is busy, and ending its turns when
 * a deadline says so. All over the control socket, through the daemon's own
 * non-originating client (`app_server/client.ts`).
 *
 * Counting: `server/diagnostics` (gauge `core.turns.active`, absent until a
 * thread exists: 0) when the server grants `experimentalApi`; otherwise the
 * stable path, `thread/loaded/list` then `thread/read` per thread (a thread
 * may unload between the two calls: not active). Idle is only believed when
 * two probes a few seconds apart agree, because the count dips to 0 for a
 * moment between a subagent finishing and its parent continuing.
 *
 * Touches no files.
 *
 * @module
 */
import {
  type AppServerClient,
  CONNECT_TIMEOUT_MS,
  connectAppServer,
  RpcError,
} from "../app_server/client.ts";
import { ConnectError, type ServerInfo } from "../app_server/handshake.ts";
import { type ProbeTarget, probeTimeoutMs } from "../app_server/probe.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { IdleObservation } from "./policy.ts";

/** Gap between the two probes that must both see no active turn. */
export const IDLE_CONFIRM_GAP_MS = 3_000;
/** Bound on each request of a probe. */
export const IDLE_REQUEST_TIMEOUT_MS = 5_000;
/** At most this many `thread/loaded/list` pages are read (each holds many ids). */
const MAX_THREAD_PAGES = 20;

/** How many turns run, and how codexd learned it. */
export interface TurnCount {
  /** Running turns (threads with an active turn on the stable path). */
  activeTurns: number;
  /** `diagnostics` (`server/diagnostics`) or `threads` (the stable fallback). */
  via: "diagnostics" | "threads";
}

/**
 * Connects with `experimentalApi`, falling back to a plain session when the
 * server refuses the capability at `initialize`. `server/diagnostics` goes
 * out right behind `initialize` (one round trip less before a stop); the
 * first {@linkcode countActiveTurns} takes its answer.
 */
export async function connectForTurns(
  socketPath: string,
  timeoutMs: number = CONNECT_TIMEOUT_MS,
): Promise<AppServerClient> {
  try {
    return await connectAppServer(socketPath, {
      timeoutMs,
      experimentalApi: true,
      pipelined: { method: "server/diagnostics" },
    });
  } catch (error) {
    if (!retriesPlain(error)) throw error;
    return await connectAppServer(socketPath, { timeoutMs });
  }
}

/**
 * Whether a failed connect with `experimentalApi` is worth one plain retry:
 * only when the server answered `initialize` and refused (a release that does
 * not grant the capability). Silence, a time-out or an unsafe socket would
 * fail the same way again.
 */
export function retriesPlain(error: unknown): boolean {
  return error instanceof ConnectError && error.kind === "refused";
}

interface Gauge {
  name?: unknown;
  value?: unknown;
}

/** Counts running turns on an open session (diagnostics, else the stable path). */
export async function countActiveTurns(
  client: AppServerClient,
  timeoutMs: number = IDLE_REQUEST_TIMEOUT_MS,
): Promise<TurnCount> {
  try {
    const diagnostics = await client.pipelinedAnswer<{ gauges?: Gauge[] }>(
      "server/diagnostics",
      timeoutMs,
    ) ?? await client.request<{ gauges?: Gauge[] }>("server/diagnostics", {}, timeoutMs);
    const gauge = diagnostics?.gauges?.find((g) => g.name === "core.turns.active");
    const value = Number(gauge?.value ?? 0);
    return { activeTurns: Number.isFinite(value) ? value : 0, via: "diagnostics" };
  } catch (error) {
    // -32600 without the capability, "method not found" on releases without it.
    if (!(error instanceof RpcError)) throw error;
  }
  return { activeTurns: (await activeThreads(client, timeoutMs)).length, via: "threads" };
}

/** The ids of loaded threads whose status is `active` (stable API only). */
export async function activeThreads(
  client: AppServerClient,
  timeoutMs: number = IDLE_REQUEST_TIMEOUT_MS,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_THREAD_PAGES; page++) {
    const listed: { data?: unknown[]; nextCursor?: string | null } = await client.request(
      "thread/loaded/list",
      cursor === null ? {} : { cursor },
      timeoutMs,
    );
    ids.push(...(listed?.data ?? []).filter((id): id is string => typeof id === "string"));
    cursor = listed?.nextCursor ?? null;
    if (cursor === null) break;
  }
  const active: string[] = [];
  for (const threadId of ids) {
    try {
      const read = await client.request<{ thread?: { status?: { type?: unknown } } }>(
        "thread/read",
        { threadId, includeTurns: false },
        timeoutMs,
      );
      if (read?.thread?.status?.type === "active") active.push(threadId);
    } catch (error) {
      // Unloaded since the list (or unreadable): it runs nothing we could cut short.
      if (!(error instanceof RpcError)) throw error;
    }
  }
  return active;
}

/** What status, stop and restart learn from one connection. */
export interface ServerTurns {
  /** What `initialize` said; absent when nothing answered. */
  info?: ServerInfo;
  /** Running turns, or `null` when the server could not be asked. */
  activeTurns: number | null;
  /** Why `activeTurns` is `null`. */
  activeTurnsReason?: string;
  /** How it was counted. */
  via?: TurnCount["via"];
}

/**
 * One connection (bounded by the caller's `probeTimeoutMs`): `initialize`
 * (with `experimentalApi`), then one count. Never throws: a server that does
 * not answer reads as `activeTurns: null`.
 */
export async function readServerTurns(target: ProbeTarget): Promise<ServerTurns> {
  const timeoutMs = probeTimeoutMs(target);
  let client: AppServerClient;
  try {
    client = await connectForTurns(target.paths.socketPath, timeoutMs);
  } catch {
    return { activeTurns: null, activeTurnsReason: "app-server not answering" };
  }
  try {
    const count = await countActiveTurns(client, Math.max(timeoutMs, 1_000));
    return { info: client.info, activeTurns: count.activeTurns, via: count.via };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      info: client.info,
      activeTurns: null,
      activeTurnsReason: `cannot count turns: ${why}`,
    };
  } finally {
    await client.close();
  }
}

/** Options for {@linkcode observeIdle}. */
export interface ObserveIdleOptions {
  /** Gap between the two probes. @default {IDLE_CONFIRM_GAP_MS} */
  gapMs?: number;
  /** Bound on connecting. @default {CONNECT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @default {systemClock} */
  clock?: Clock;
}

/**
 * Two probes `gapMs` apart on one session: `idle` only when both count 0,
 * `busy` as soon as one does not, `unreachable` when nothing answers.
 * A server that answers but cannot be counted is treated as busy (1): never
 * cut a turn short on a guess.
 */
export async function observeIdle(
  socketPath: string,
  options: ObserveIdleOptions = {},
): Promise<IdleObservation> {
  const { gapMs = IDLE_CONFIRM_GAP_MS, timeoutMs = CONNECT_TIMEOUT_MS, clock = systemClock } =
    options;
  let client: AppServerClient;
  try {
    client = await connectForTurns(socketPath, timeoutMs);
  } catch {
    return { kind: "unreachable" };
  }
  try {
    for (let probe = 0; probe < 2; probe++) {
      if (probe > 0) await clock.sleep(gapMs);
      const { activeTurns } = await countActiveTurns(client);
      if (activeTurns > 0) return { kind: "busy", activeTurns };
    }
    return { kind: "idle" };
  } catch {
    return { kind: "busy", activeTurns: 1 };
  } finally {
    await client.close();
  }
}

/** A turn that was ended by {@linkcode interruptActiveTurns}. */
export interface InterruptedTurn {
  /** Its thread. */
  threadId: string;
  /** The turn. */
  turnId: string;
}

/**
 * Ends every in-progress turn with `turn/interrupt` (the app-server saves it
 * as interrupted, in ~10 ms), connecting within the caller's
 * `probeTimeoutMs`. Returns what it ended.
 */
export async function interruptActiveTurns(target: ProbeTarget): Promise<InterruptedTurn[]> {
  const client = await connectForTurns(target.paths.socketPath, probeTimeoutMs(target));
  try {
    const ended: InterruptedTurn[] = [];
    for (const threadId of await activeThreads(client)) {
      const turns = await client.request<{ data?: { id?: unknown; status?: unknown }[] }>(
        "thread/turns/list",
        { threadId, limit: 1 },
        IDLE_REQUEST_TIMEOUT_MS,
      ).catch(() => undefined);
      const turn = turns?.data?.[0];
      if (typeof turn?.id !== "string" || turn.status !== "inProgress") continue;
      try {
        await client.request(
          "turn/interrupt",
          { threadId, turnId: turn.id },
          IDLE_REQUEST_TIMEOUT_MS,
        );
        ended.push({ threadId, turnId: turn.id });
      } catch (error) {
        // Finished on its own meanwhile: nothing to end.
        if (!(error instanceof RpcError)) throw error;
      }
    }
    return ended;
  } finally {
    await client.close();
  }
}
