/**
 * A JSON-RPC session with the app-server over its control socket: connect,
 * `initialize` as the daemon (never as an originating client), then requests
 * and notifications until closed. Every step is bounded.
 *
 * The client name matters: the first client to initialize names the server's
 * model traffic (`originator`), and `codex_app_server_daemon` is one the
 * app-server treats as non-originating, so codexd never brands a user's
 * requests. Every connection codexd makes (readiness, version, idle probes,
 * remote control) goes through {@linkcode connectAppServer}. What is said at
 * `initialize`, and the typed error a failed connect becomes, are in
 * `handshake.ts`.
 *
 * @module
 */
import { connectablePath, socketProblem, UnsafeSocketError } from "./socket_path.ts";
import { openWebSocketSession, type WebSocketSession } from "./websocket.ts";
import {
  ConnectError,
  DAEMON_CLIENT_NAME,
  initializeTexts,
  readInitializeAnswer,
  type ServerInfo,
  unreachable,
} from "./handshake.ts";
import { expiry } from "../expiry.ts";

/** Bound on connecting and initializing, as in the reference's probe. */
export const CONNECT_TIMEOUT_MS = 2_000;
/** Bound on one request once connected. */
export const REQUEST_TIMEOUT_MS = 5_000;

/** A server-sent notification. */
export interface RpcNotification {
  /** The method, e.g. `remoteControl/status/changed`. */
  method: string;
  /** Its params. */
  params: unknown;
}

/** A JSON-RPC error the server answered with. */
export class RpcError extends Error {
  /** The JSON-RPC error code (-32601: method not found, -32600: invalid request). */
  readonly code: number;
  /** The method that failed. */
  readonly method: string;

  /** Wraps the server's error object for `method`. */
  constructor(method: string, code: number, message: string) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.method = method;
  }
}

/** JSON-RPC "method not found". */
export const METHOD_NOT_FOUND = -32601;

/** Whether the server said it does not know the method (an older release). */
export function isMethodNotFound(error: unknown): boolean {
  if (!(error instanceof RpcError)) return false;
  return error.code === METHOD_NOT_FOUND || /method not found|unknown variant/i.test(error.message);
}

/** Options for {@linkcode connectAppServer}. */
export interface ConnectOptions {
  /** Bound on connect + upgrade + `initialize`. @default {CONNECT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Ask for the experimental API (`server/diagnostics`, `remoteControl/*`). @default {false} */
  experimentalApi?: boolean;
  /**
   * The `clientInfo.name` to initialize as. Only tests and real clients
   * change it: codexd's own connections must stay non-originating.
   * @default {DAEMON_CLIENT_NAME}
   */
  clientName?: string;
  /**
   * A request sent right behind `initialize` (with `initialized`) instead of
   * after its answer: one round trip less for a caller that asks one thing
   * (the turn count before a stop). Its answer: {@linkcode AppServerClient.pipelinedAnswer}.
   */
  pipelined?: { method: string; params?: unknown };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Waiter {
  method: string;
  resolve(notification: RpcNotification | undefined): void;
}

/**
 * Starts a session on an initialized connection: `early` are messages read
 * while waiting for the initialize answer, `pipelined` the method of a request
 * already sent as id 2. Set by {@linkcode AppServerClient}'s static block.
 */
let openClient: (
  conn: Deno.Conn,
  session: WebSocketSession,
  info: ServerInfo,
  early: string[],
  pipelined: string | undefined,
) => AppServerClient;

/** An initialized session; close it (or `await using` it) when done. */
export class AppServerClient implements AsyncDisposable {
  /** What the server said at `initialize`. */
  readonly info: ServerInfo;
  #conn: Deno.Conn;
  #session: WebSocketSession;
  #nextId = 2;
  #pipelined: { method: string; answer: Promise<unknown> } | undefined;
  #pending = new Map<number, Pending>();
  #notifications: RpcNotification[] = [];
  #waiters: Waiter[] = [];
  #closed: Error | undefined;

  private constructor(conn: Deno.Conn, session: WebSocketSession, info: ServerInfo) {
    this.#conn = conn;
    this.#session = session;
    this.info = info;
  }

  // Only connectAppServer starts a session: a static block (which sees the
  // private members) hands it the opener, so no public `open` exists.
  static {
    openClient = (conn, session, info, early, pipelined) => {
      const client = new AppServerClient(conn, session, info);
      if (pipelined !== undefined) {
        client.#pipelined = { method: pipelined, answer: client.#expect(client.#nextId++) };
      }
      for (const text of early) client.#dispatch(text);
      client.#pump();
      return client;
    };
  }

  #expect(id: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
  }

  async #pump(): Promise<void> {
    try {
      while (true) this.#dispatch(await this.#session.readText());
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #dispatch(text: string): void {
    let message: {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    try {
      message = JSON.parse(text);
    } catch {
      return; // not JSON-RPC: ignore, as the app-server's own clients do
    }
    if (typeof message.id === "number" && message.method === undefined) {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined) {
        pending.reject(
          new RpcError(
            "",
            Number(message.error.code ?? 0),
            String(message.error.message ?? "error"),
          ),
        );
      } else {
        pending.resolve(message.result);
      }
      return;
    }
    if (typeof message.method === "string" && message.id === undefined) {
      const notification = { method: message.method, params: message.params };
      const waiter = this.#waiters.findIndex((w) => w.method === notification.method);
      if (waiter >= 0) this.#waiters.splice(waiter, 1)[0].resolve(notification);
      else this.#notifications.push(notification);
    }
    // Server-initiated requests (approvals) are never addressed to the daemon's session.
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    // Nothing more can arrive: waiters learn it now, not at their time-out.
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
  }

  /**
   * Sends a request and waits (bounded) for its answer.
   *
   * @throws {RpcError} when the server answers with an error; {@linkcode Error} on time-out or a closed socket.
   */
  async request<T = unknown>(
    method: string,
    params: unknown = {},
    timeoutMs: number = REQUEST_TIMEOUT_MS,
  ): Promise<T> {
    if (this.#closed) throw this.#closed;
    const id = this.#nextId++;
    const answer = this.#expect(id);
    await this.#session.sendText(JSON.stringify({ id, method, params }));
    return await this.#settle<T>(id, method, answer, timeoutMs);
  }

  /**
   * The answer to the request given as `pipelined` when connecting, once
   * (`undefined` when there was none, or it was taken already).
   *
   * @throws {RpcError} as {@linkcode AppServerClient.request}.
   */
  async pipelinedAnswer<T = unknown>(
    method: string,
    timeoutMs: number = REQUEST_TIMEOUT_MS,
  ): Promise<T | undefined> {
    const pipelined = this.#pipelined;
    if (pipelined === undefined || pipelined.method !== method) return undefined;
    this.#pipelined = undefined;
    return await this.#settle<T>(2, method, pipelined.answer, timeoutMs);
  }

  async #settle<T>(
    id: number,
    method: string,
    answer: Promise<unknown>,
    timeoutMs: number,
  ): Promise<T> {
    const timer = expiry(timeoutMs);
    try {
      const outcome = await Promise.race([answer, timer.expired]);
      if (outcome === "expired") {
        this.#pending.delete(id);
        throw new Error(`app-server did not answer ${method} within ${timeoutMs} ms`);
      }
      return outcome as T;
    } catch (error) {
      if (error instanceof RpcError) throw new RpcError(method, error.code, error.message);
      throw error;
    } finally {
      timer.cancel();
    }
  }

  /** Waits (bounded) for the next notification named `method`; `undefined` on time-out or close. */
  async nextNotification(method: string, timeoutMs: number): Promise<RpcNotification | undefined> {
    const queued = this.#notifications.findIndex((n) => n.method === method);
    if (queued >= 0) return this.#notifications.splice(queued, 1)[0];
    if (this.#closed) return undefined;
    let waiter: Waiter | undefined;
    const arrived = new Promise<RpcNotification | undefined>((resolve) => {
      waiter = { method, resolve };
      this.#waiters.push(waiter);
    });
    const timer = expiry(timeoutMs);
    try {
      const outcome = await Promise.race([arrived, timer.expired]);
      return outcome === "expired" ? undefined : outcome;
    } finally {
      timer.cancel();
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    }
  }

  /** Closes the session (a WebSocket close frame, then the socket). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = new Error("session closed");
      await this.#session.close();
    }
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#fail(this.#closed);
  }

  /** Closes the session. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to the control socket and performs `initialize` / `initialized`
 * as {@linkcode DAEMON_CLIENT_NAME}, all within `timeoutMs`.
 *
 * @throws {ConnectError} when nothing listens, the handshake fails, or it
 * takes too long (its `kind` says which); {@linkcode UnsafeSocketError} for a
 * socket codexd must not talk to. Callers decide what that means.
 */
export async function connectAppServer(
  socketPath: string,
  options: ConnectOptions = {},
): Promise<AppServerClient> {
  const pipelined = options.pipelined;
  const behind = pipelined === undefined
    ? []
    : [JSON.stringify({ id: 2, method: pipelined.method, params: pipelined.params ?? {} })];
  return await initializeOn(
    socketPath,
    options,
    behind,
    (conn, session, info, early) =>
      Promise.resolve(openClient(conn, session, info, early, pipelined?.method)),
  );
}

/**
 * One `initialize` and goodbye: what readiness checks and `version` need.
 * Nothing waits for the server's close.
 *
 * @throws {Error} as {@linkcode connectAppServer}.
 */
export async function initializeOnce(
  socketPath: string,
  options: ConnectOptions = {},
): Promise<ServerInfo> {
  return await initializeOn(socketPath, options, [], async (conn, session, info) => {
    await session.close();
    conn.close();
    return info;
  });
}

/**
 * Connects, initializes, then hands the live session to `then`, all under
 * one deadline. `initialize`, `initialized` and the `behind` messages go out
 * in one write once the upgrade is answered: the app-server reads them in
 * order (measured with 0.169.0), so nothing waits for the initialize answer.
 */
async function initializeOn<T>(
  socketPath: string,
  options: ConnectOptions,
  behind: string[],
  then: (
    conn: Deno.Conn,
    session: WebSocketSession,
    info: ServerInfo,
    early: string[],
  ) => Promise<T>,
): Promise<T> {
  const {
    timeoutMs = CONNECT_TIMEOUT_MS,
    experimentalApi = false,
    clientName = DAEMON_CLIENT_NAME,
  } = options;
  // Never talk to an impostor: a symlinked socket must lead into a private directory of its owner.
  const problem = socketProblem(socketPath);
  if (problem !== undefined) throw new UnsafeSocketError(problem);
  const deadline = expiry(timeoutMs);
  const connecting = Deno.connect({ transport: "unix", path: connectablePath(socketPath) });
  let conn: Deno.Conn | "expired";
  try {
    conn = await Promise.race([connecting, deadline.expired]);
  } catch (error) {
    deadline.cancel();
    throw unreachable(error);
  }
  if (conn === "expired") {
    connecting.then((late) => late.close(), () => {});
    throw new ConnectError("timeout", `timed out connecting to ${socketPath}`);
  }
  let timedOut = false;
  deadline.expired.then(() => {
    timedOut = true;
    conn.close();
  });
  try {
    const session = openWebSocketSession(conn);
    await session.handshake();
    await session.sendTexts([...initializeTexts(clientName, experimentalApi), ...behind]);
    const { info, early } = await readInitializeAnswer(session);
    return await then(conn, session, info, early);
  } catch (error) {
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // already closed by the peer
      }
    }
    if (timedOut) {
      throw new ConnectError("timeout", `timed out initializing on control socket ${socketPath}`);
    }
    throw error instanceof ConnectError ? error : unreachable(error);
  } finally {
    deadline.cancel();
  }
}
