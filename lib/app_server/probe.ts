/**
 * The readiness and version probe: connect to the control socket, perform
 * `initialize` as the daemon, close. "Ready" means exactly that it answered.
 * The session itself lives in `client.ts`.
 *
 * @module
 */
import { CONNECT_TIMEOUT_MS, initializeOnce, type ServerInfo } from "./client.ts";

export { parseUserAgentVersion } from "./client.ts";
export { connectablePath, MAX_SOCKET_PATH_BYTES } from "./socket_path.ts";
export { decodeFrame, encodeClientFrame, handshakeKey } from "./websocket.ts";

/** Bound on one probe, as in the reference. */
export const PROBE_TIMEOUT_MS = CONNECT_TIMEOUT_MS;

/** What a successful probe learns. */
export type ProbeInfo = ServerInfo;

/** Options for {@linkcode probeAppServer}. */
export interface ProbeOptions {
  /** @default {PROBE_TIMEOUT_MS} */
  timeoutMs?: number;
}

/**
 * Connects to the control socket and performs the `initialize` handshake.
 *
 * @throws {Error} when nothing listens, the handshake fails, or it takes
 * longer than the timeout. Callers decide what that means.
 */
export async function probeAppServer(
  socketPath: string,
  options: ProbeOptions = {},
): Promise<ProbeInfo> {
  return await initializeOnce(socketPath, { timeoutMs: options.timeoutMs ?? PROBE_TIMEOUT_MS });
}

/** Whether anything answers `initialize` on the socket right now. */
export async function isAnswering(
  socketPath: string,
  options: ProbeOptions = {},
): Promise<ProbeInfo | undefined> {
  try {
    return await probeAppServer(socketPath, options);
  } catch {
    return undefined;
  }
}
