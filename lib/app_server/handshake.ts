/**
 * The `initialize` handshake on the control socket: what codexd says (as the
 * non-originating {@linkcode DAEMON_CLIENT_NAME}), how it reads the answer,
 * and the typed {@linkcode ConnectError} every failed connect becomes, so
 * callers decide on its `kind`, never on its words. The connection and the
 * session around it live in `client.ts`.
 *
 * @module
 */
import type { WebSocketSession } from "./websocket.ts";
import { CODEXD_VERSION } from "../version.ts";

/** The client name the reference daemon uses; the app-server treats it as non-originating. */
export const DAEMON_CLIENT_NAME = "codex_app_server_daemon";

/** What `initialize` tells about the server. */
export interface ServerInfo {
  /** The version in the server's `userAgent`, e.g. `0.169.0`. */
  appServerVersion: string;
  /** The raw `userAgent`. */
  userAgent: string;
}

/**
 * Why connecting to the app-server failed: callers decide on this, never on
 * an error's words.
 * - `unreachable`: nothing listens, or the connection broke before
 *   `initialize` was answered;
 * - `timeout`: connect, upgrade and `initialize` took longer than the bound;
 * - `refused`: the server answered `initialize` with an error (e.g. a
 *   release that refuses the `experimentalApi` capability);
 * - `unintelligible`: the answer is not one codexd understands.
 */
export type ConnectFailure = "unreachable" | "timeout" | "refused" | "unintelligible";

/**
 * A failed connect: `client.ts`'s `connectAppServer` throws nothing else, but
 * `UnsafeSocketError` for a socket codexd must not talk to.
 */
export class ConnectError extends Error {
  /** Why it failed. */
  readonly kind: ConnectFailure;

  /** A failure of `kind`; `cause` keeps the underlying error. */
  constructor(kind: ConnectFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.kind = kind;
  }
}

/** Extracts the version from a user agent such as `codex_app_server_daemon/0.169.0 (Linux; x86_64) …`. */
export function parseUserAgentVersion(userAgent: string): string | undefined {
  const slash = userAgent.indexOf("/");
  if (slash < 0) return undefined;
  const version = userAgent.slice(slash + 1).trim().split(/\s+/)[0];
  return version === "" ? undefined : version;
}

/** A connection that failed or broke: the underlying error's words, as its `cause`. */
export function unreachable(error: unknown): ConnectError {
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectError("unreachable", message, { cause: error });
}

const INITIALIZED = JSON.stringify({ method: "initialized" });

/** `initialize` (id 1) as `clientName`, asking for the experimental API or not, then `initialized`. */
export function initializeTexts(clientName: string, experimentalApi: boolean): string[] {
  const initialize = JSON.stringify({
    id: 1,
    method: "initialize",
    params: {
      clientInfo: { name: clientName, title: "codexd", version: CODEXD_VERSION },
      ...(experimentalApi ? { capabilities: { experimentalApi: true } } : {}),
    },
  });
  return [initialize, INITIALIZED];
}

/** Reads up to the initialize answer; what came before it is kept for the session. */
export async function readInitializeAnswer(
  session: WebSocketSession,
): Promise<{ info: ServerInfo; early: string[] }> {
  const early: string[] = [];
  while (true) {
    const text = await session.readText();
    let message: { id?: unknown; result?: { userAgent?: unknown }; error?: { message?: unknown } };
    try {
      message = JSON.parse(text);
    } catch (error) {
      throw new ConnectError("unintelligible", `app-server sent no JSON: ${text.slice(0, 80)}`, {
        cause: error,
      });
    }
    if (message.id !== 1) {
      early.push(text);
      continue;
    }
    if (message.error !== undefined) {
      throw new ConnectError("refused", `initialize failed: ${String(message.error.message)}`);
    }
    const userAgent = String(message.result?.userAgent ?? "");
    const appServerVersion = parseUserAgentVersion(userAgent);
    if (appServerVersion === undefined) {
      throw new ConnectError(
        "unintelligible",
        `app-server user agent has no version: "${userAgent}"`,
      );
    }
    return { info: { appServerVersion, userAgent }, early };
  }
}
