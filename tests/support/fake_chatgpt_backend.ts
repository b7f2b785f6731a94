/**
 * A loopback stand-in for the ChatGPT backend's remote-control API, so the
 * real app-server reaches `connected`, pairs and lists devices offline
 * (measured shapes: FIELD-NOTES "Remote control against a loopback backend").
 *
 * Served over raw TCP (one request per connection, `Connection: close`)
 * rather than `Deno.serve` because a test must be able to make the WebSocket
 * go silent — accept the upgrade, then answer nothing, not even a pong —
 * which `Deno.upgradeWebSocket` cannot (it always answers pings).
 *
 * Routes under `/backend-api/wham`: `POST remote/control/server/enroll` and
 * `…/refresh` (the enrollment), the WebSocket `GET remote/control/server`,
 * `POST …/server/pair`, `POST …/server/pair/status`,
 * `GET remote/control/environments/{env}/clients` (cursor paging) and
 * `DELETE …/environments/{env}/clients/{id}`; anything else is a 404 (the
 * server's incidental `accounts/check` and plugin calls take that fine).
 *
 * {@linkcode writeBackendHome} writes what a CODEX_HOME needs to use it: a
 * `config.toml` with `chatgpt_base_url` and a fabricated `auth.json` (0600).
 *
 * @module
 */
import { decodeFrame } from "../../lib/app_server/websocket.ts";

/** One HTTP request the fake received. */
export interface BackendRequest {
  /** `GET`, `POST`, `DELETE`. */
  method: string;
  /** Path without the query, e.g. `/backend-api/wham/remote/control/server/pair`. */
  path: string;
  /** The query string's parameters. */
  query: Record<string, string>;
  /** Lower-cased headers. */
  headers: Record<string, string>;
  /** The parsed JSON body, or `undefined`. */
  body: unknown;
}

/** One paired device, as the backend lists it. */
export interface FakeClient {
  client_id: string;
  display_name: string;
  device_type: string;
  platform: string;
  os_version: string;
  device_model: string;
  app_version: string;
  last_seen_at: string;
}

/** What the WebSocket endpoint does with an upgrade. */
export type WebSocketMode =
  /** Accept it, answer pings and close frames. */
  | "accept"
  /** Answer 403 (the measured outage: status `errored`). */
  | "refuse"
  /** Answer 401 (a revoked remote-control token). */
  | "unauthorized"
  /** Accept it, then read and answer nothing (a backend that hung). */
  | "silent"
  /** Never answer the upgrade request at all (a backend that hung before the 101). */
  | "hang";

/** One pairing the fake handed out. */
export interface FakePairing {
  pairing_code: string;
  manual_pairing_code: string | null;
  expires_at: string;
  claimed: boolean;
}

/** The environment every enrollment gets. */
export const FAKE_ENVIRONMENT_ID = "env_fake_1";
/** The server id every enrollment gets. */
export const FAKE_SERVER_ID = "srv_fake_1";

/** A running fake backend. */
export interface FakeChatgptBackend extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/backend-api/` (what `chatgpt_base_url` takes). */
  baseUrl: string;
  /** Every HTTP request, the WebSocket upgrades included, in order. */
  requests: BackendRequest[];
  /** Upgrade requests on the WebSocket endpoint so far (accepted or not). */
  wsAttempts(): number;
  /** WebSockets open now. */
  wsOpen(): number;
  /** Text frames the server sent on its WebSockets. */
  wsMessages: string[];
  /** Sets what later upgrades get. */
  setWebSocketMode(mode: WebSocketMode): void;
  /** Closes every open WebSocket (TCP close, no close frame): the backend dropped it. */
  dropWebSockets(): void;
  /** Status answered to `enroll` and/or `refresh` (200 by default; 401: token revoked). */
  setEnrollmentStatus(status: number, which?: "enroll" | "refresh"): void;
  /** The pairings handed out, newest last. */
  pairings: FakePairing[];
  /** How long later pairings last. @default 600 */
  setPairingTtlSeconds(seconds: number): void;
  /** Marks the pairing with this code (either kind) claimed. */
  claim(code: string): void;
  /** The paired devices the backend lists. */
  clients: FakeClient[];
  /** Page size of the clients list (the server's `limit` if smaller). @default 50 */
  setPageSize(size: number): void;
  /** Client ids a `DELETE` asked to revoke, in order. */
  deleted: string[];
  /** Stops the server and every connection. */
  close(): Promise<void>;
}

/** A device the fake can list. */
export function fakeClient(id: string, name = `Phone ${id}`): FakeClient {
  return {
    client_id: id,
    display_name: name,
    device_type: "mobile",
    platform: "ios",
    os_version: "18.1",
    device_model: "iPhone16,1",
    app_version: "1.2025.300",
    last_seen_at: "2026-12-01T10:00:00Z",
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WS_GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  // Control frames and the few texts here stay under 126 bytes or use the 16-bit length.
  const extra = payload.length < 126 ? 0 : 2;
  const frame = new Uint8Array(2 + extra + payload.length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) frame[1] = payload.length;
  else {
    frame[1] = 126;
    new DataView(frame.buffer).setUint16(2, payload.length);
  }
  frame.set(payload, 2 + extra);
  return frame;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfHeaderEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  410: "Gone",
};

function response(status: number, body?: unknown): Uint8Array {
  const text = body === undefined ? "" : JSON.stringify(body);
  return encoder.encode(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n` +
      (text ? "content-type: application/json\r\n" : "") +
      `content-length: ${encoder.encode(text).length}\r\nconnection: close\r\n\r\n${text}`,
  );
}

function isoIn(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Starts the fake on a free loopback port. */
export function startFakeChatgptBackend(): FakeChatgptBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const requests: BackendRequest[] = [];
  const wsMessages: string[] = [];
  const pairings: FakePairing[] = [];
  const clients: FakeClient[] = [];
  const deleted: string[] = [];
  const conns = new Set<Deno.Conn>();
  const sockets = new Set<Deno.Conn>();
  let wsMode: WebSocketMode = "accept";
  const enrollmentStatus = { enroll: 200, refresh: 200 };
  let pageSize = 50;
  let pairingTtl = 600;
  let attempts = 0;
  let counter = 0;

  const enrollment = (): Record<string, unknown> => ({
    server_id: FAKE_SERVER_ID,
    environment_id: FAKE_ENVIRONMENT_ID,
    remote_control_token: `rct_fake_${++counter}`,
    expires_at: isoIn(3600),
  });

  function route(request: BackendRequest): Uint8Array {
    const path = request.path.replace(/^\/backend-api\/wham\//, "");
    const kind = path.match(/^remote\/control\/server\/(enroll|refresh)$/)?.[1];
    if (request.method === "POST" && (kind === "enroll" || kind === "refresh")) {
      const status = enrollmentStatus[kind];
      return status === 200 ? response(200, enrollment()) : response(status, { detail: "revoked" });
    }
    if (request.method === "POST" && path === "remote/control/server/pair") {
      const manual = (request.body as { manual_code?: boolean } | undefined)?.manual_code === true;
      const n = ++counter;
      const pairing: FakePairing = {
        pairing_code: `pc_fake_${n}_${crypto.randomUUID().slice(0, 8)}`,
        manual_pairing_code: manual ? `ABCD-${String(1000 + n)}` : null,
        expires_at: isoIn(pairingTtl),
        claimed: false,
      };
      pairings.push(pairing);
      return response(200, {
        ...pairing,
        claimed: undefined,
        server_id: FAKE_SERVER_ID,
        environment_id: FAKE_ENVIRONMENT_ID,
      });
    }
    if (request.method === "POST" && path === "remote/control/server/pair/status") {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const pairing = pairings.find((p) =>
        p.pairing_code === body.pairing_code ||
        (p.manual_pairing_code !== null && p.manual_pairing_code === body.manual_pairing_code)
      );
      if (pairing === undefined) return response(404, { detail: "pairing not found" });
      return response(200, { claimed: pairing.claimed });
    }
    const list = path.match(/^(?:remote\/control\/)?environments\/([^/]+)\/clients$/);
    if (request.method === "GET" && list) {
      const start = Number(request.query.cursor ?? "0") || 0;
      const limit = Math.min(pageSize, Number(request.query.limit ?? pageSize) || pageSize);
      const items = clients.slice(start, start + limit);
      const next = start + limit < clients.length ? String(start + limit) : null;
      return response(200, { items, cursor: next });
    }
    const one = path.match(/^(?:remote\/control\/)?environments\/([^/]+)\/clients\/([^/]+)$/);
    if (request.method === "DELETE" && one) {
      const id = decodeURIComponent(one[2]);
      deleted.push(id);
      const at = clients.findIndex((c) => c.client_id === id);
      if (at >= 0) clients.splice(at, 1);
      return new Uint8Array(response(204));
    }
    return response(404, { detail: "not found" });
  }

  async function webSocket(conn: Deno.Conn, request: BackendRequest, rest: Uint8Array) {
    attempts++;
    const mode = wsMode;
    if (mode === "refuse" || mode === "unauthorized") {
      await writeAll(conn, response(mode === "refuse" ? 403 : 401, { detail: mode }));
      conn.close();
      return;
    }
    if (mode === "hang") {
      sockets.add(conn); // held open unanswered; dropWebSockets() or close() ends it
      return;
    }
    const key = request.headers["sec-websocket-key"] ?? "";
    await writeAll(
      conn,
      encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
          `sec-websocket-accept: ${await acceptKey(key)}\r\n\r\n`,
      ),
    );
    sockets.add(conn);
    if (mode === "silent") return; // Held open, never read: no pong, no close.
    let buffer = rest;
    const chunk = new Uint8Array(16 * 1024);
    try {
      while (true) {
        let frame = decodeFrame(buffer);
        while (frame) {
          buffer = buffer.slice(frame.size);
          if (frame.opcode === 0x1) wsMessages.push(decoder.decode(frame.payload));
          if (frame.opcode === 0x9) await writeAll(conn, serverFrame(0xa, frame.payload));
          if (frame.opcode === 0x8) {
            await writeAll(conn, serverFrame(0x8, frame.payload));
            throw new Error("closed");
          }
          frame = decodeFrame(buffer);
        }
        const n = await conn.read(chunk);
        if (n === null) break;
        buffer = concat(buffer, chunk.subarray(0, n));
      }
    } catch {
      // closed by either side
    } finally {
      sockets.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  async function handle(conn: Deno.Conn): Promise<void> {
    conns.add(conn);
    let keep = false;
    try {
      let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
      const chunk = new Uint8Array(16 * 1024);
      let end = -1;
      while ((end = indexOfHeaderEnd(buffer)) < 0) {
        const n = await conn.read(chunk);
        if (n === null) return;
        buffer = concat(buffer, chunk.subarray(0, n));
      }
      const head = decoder.decode(buffer.subarray(0, end)).split("\r\n");
      const [method, target] = head[0].split(" ");
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) {
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
      let rest = buffer.slice(end + 4);
      const length = Number(headers["content-length"] ?? "0");
      while (rest.length < length) {
        const n = await conn.read(chunk);
        if (n === null) break;
        rest = concat(rest, chunk.subarray(0, n));
      }
      const url = new URL(target, `http://127.0.0.1:${port}`);
      const text = decoder.decode(rest.subarray(0, length));
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const request: BackendRequest = {
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
      };
      requests.push(request);
      if (
        method === "GET" && url.pathname === "/backend-api/wham/remote/control/server" &&
        /websocket/i.test(headers.upgrade ?? "")
      ) {
        keep = true;
        conns.delete(conn);
        await webSocket(conn, request, rest.slice(length));
        return;
      }
      await writeAll(conn, route(request));
    } catch {
      // a client that went away
    } finally {
      if (!keep) {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) handle(conn);
    } catch {
      // listener closed
    }
  })();

  const close = async (): Promise<void> => {
    try {
      listener.close();
    } catch {
      // already closed
    }
    for (const conn of [...conns, ...sockets]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    conns.clear();
    sockets.clear();
    await accepting;
  };

  return {
    baseUrl: `http://127.0.0.1:${port}/backend-api/`,
    requests,
    wsAttempts: () => attempts,
    wsOpen: () => sockets.size,
    wsMessages,
    setWebSocketMode: (mode) => wsMode = mode,
    dropWebSockets: () => {
      for (const conn of sockets) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      sockets.clear();
    },
    setEnrollmentStatus: (status, which) => {
      if (which !== "refresh") enrollmentStatus.enroll = status;
      if (which !== "enroll") enrollmentStatus.refresh = status;
    },
    pairings,
    setPairingTtlSeconds: (seconds) => pairingTtl = seconds,
    claim: (code) => {
      const pairing = pairings.find((p) =>
        p.pairing_code === code || p.manual_pairing_code === code
      );
      if (pairing === undefined) throw new Error(`no pairing with code ${code}`);
      pairing.claimed = true;
    },
    clients,
    setPageSize: (size) => pageSize = size,
    deleted,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Points `home` at `backend`: `chatgpt_base_url` and the file credential
 * store in `config.toml` (prepended: top-level keys must precede tables, so
 * a provider config written earlier keeps working), and a fabricated ChatGPT
 * login in `auth.json` (0600; the id token is not signature-checked, and
 * `account_id` is required to connect).
 */
export async function writeBackendHome(home: string, backend: { baseUrl: string }): Promise<void> {
  let existing = "";
  try {
    existing = await Deno.readTextFile(`${home}/config.toml`);
  } catch {
    // none yet
  }
  await Deno.writeTextFile(
    `${home}/config.toml`,
    `chatgpt_base_url = "${backend.baseUrl}"\ncli_auth_credentials_store = "file"\n${existing}`,
  );
  const auth = {
    tokens: {
      id_token: "e30.e30.x",
      access_token: "at_fake",
      refresh_token: "rt_fake",
      account_id: "acc_fake",
    },
  };
  await Deno.writeTextFile(`${home}/auth.json`, JSON.stringify(auth), { mode: 0o600 });
  await Deno.chmod(`${home}/auth.json`, 0o600);
}
