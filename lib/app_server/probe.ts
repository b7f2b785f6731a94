/**
 * "Does it answer?": the one readiness and version probe. Connect to the
 * control socket, perform `initialize` as the daemon, close. "Ready" means
 * exactly that it answered.
 *
 * {@linkcode probe} is the only entry: every caller passes its context, so
 * every caller honours the `probeTimeoutMs` it was given
 * (tests/app_server/probe_test.ts checks that nothing outside `app_server/`
 * reaches the session's one-shot `initializeOnce` directly). The session
 * itself lives in `client.ts`.
 *
 * @module
 */
import { CONNECT_TIMEOUT_MS, initializeOnce } from "./client.ts";
import type { ServerInfo } from "./handshake.ts";

/** Bound on one probe, as in the reference. */
export const PROBE_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

/** What a successful probe learns. */
export type ProbeInfo = ServerInfo;

/** What a probe needs of a command's context (a `DaemonContext` is one). */
export interface ProbeTarget {
  /** Where the control socket is. */
  paths: { socketPath: string };
  /** The caller's options: `probeTimeoutMs` bounds the probe. */
  options: { probeTimeoutMs?: number };
}

/** Options for {@linkcode probe}. */
export interface ProbeOptions {
  /**
   * A tighter bound than the context's (a start deadline closing in); never
   * looser. @default {the context's probeTimeoutMs}
   */
  timeoutMs?: number;
}

/** The bound on one probe for this context: its `probeTimeoutMs`, else {@linkcode PROBE_TIMEOUT_MS}. */
export function probeTimeoutMs(target: ProbeTarget): number {
  return target.options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
}

/**
 * One bounded `initialize` on the control socket: what the server said, or
 * `undefined` when nothing answers in time (nothing listens, the handshake
 * fails, or it takes longer than the bound). Never throws.
 */
export async function probe(
  target: ProbeTarget,
  options: ProbeOptions = {},
): Promise<ProbeInfo | undefined> {
  const bound = probeTimeoutMs(target);
  const timeoutMs = Math.min(bound, options.timeoutMs ?? bound);
  try {
    return await initializeOnce(target.paths.socketPath, { timeoutMs });
  } catch {
    return undefined;
  }
}
