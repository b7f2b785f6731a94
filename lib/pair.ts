/**
 * `pair`, `clients` and `revoke`: pairing a headless host from the command
 * line and managing its paired devices, through the running managed
 * app-server's `remoteControl/pairing/*` and `remoteControl/client/*`
 * methods (the server talks to the ChatGPT backend). Reads settings and pid
 * records; takes no lock and changes no file.
 *
 * @module
 */
import { createContext, type DaemonContext, type DaemonOptions } from "./server/context.ts";
import { CodexdError } from "./errors.ts";
import {
  deviceRequestError,
  type DeviceSession,
  openDeviceSession,
} from "./remote_control/device_session.ts";
import {
  CLIENT_LIST_METHOD,
  CLIENT_REVOKE_METHOD,
  type ClientPage,
  decidePairingPoll,
  type Pairing,
  PAIRING_START_METHOD,
  PAIRING_STATUS_METHOD,
  pairingLink,
  parseClientPage,
  parsePairing,
  type RemoteClient,
} from "./remote_control/pairing_protocol.ts";
import { CODEXD_VERSION } from "./version.ts";

export type { Pairing, RemoteClient } from "./remote_control/pairing_protocol.ts";

/** Gap between two `pairing/status` polls of `pair --wait-seconds`. */
export const PAIRING_POLL_MS = 2_000;
/** Bound on one pairing or device request (the server asks the backend). */
export const DEVICE_REQUEST_TIMEOUT_MS = 15_000;
/** Page size asked of `client/list`. */
export const CLIENT_PAGE_LIMIT = 100;
/** Bound on pages followed, so a backend that loops its cursor cannot hang `clients`. */
export const CLIENT_MAX_PAGES = 100;

/** Options of {@linkcode pair}. */
export interface PairOptions extends DaemonOptions {
  /** Ask for a short code a person types (`manualPairingCode`). @default {false} */
  manualCode?: boolean;
  /** Wait up to this long for the code to be claimed. @default {0} (no wait) */
  waitSeconds?: number;
  /** Gap between status polls. @default {PAIRING_POLL_MS} */
  pollMs?: number;
}

/** Fields `pair`, `clients` and `revoke` all print. */
export interface DeviceCommon {
  /** `"pid"`. */
  backend: "pid";
  /** The running app-server. */
  pid: number;
  /** The name the host shows under on the user's devices. */
  serverName: string | null;
  /** The server's remote-control status (`connected`, …). */
  remoteControlStatus: string;
  /** The control socket. */
  socketPath: string;
  /** What the running app-server reports. */
  appServerVersion: string;
  /** This codexd's version. */
  codexdVersion: string;
}

/** What `pair` prints. */
export interface PairResult extends Pairing, DeviceCommon {
  /** `pairing` (codes handed out), `paired` (claimed within the wait), `pairingPending` (the wait ended first). */
  status: "pairing" | "paired" | "pairingPending";
  /** Whether a device claimed the code. */
  claimed: boolean;
  /** The link the pairing code stands for (what a QR code would carry). */
  pairingLink: string;
  /** Seconds until the codes expire (at the time of printing). */
  expiresInSeconds: number;
}

/** What `clients` prints. */
export interface ClientsResult extends DeviceCommon {
  /** `ok`. */
  status: "ok";
  /** The environment listed. */
  environmentId: string;
  /** Every paired device (all pages). */
  clients: RemoteClient[];
  /** How many. */
  count: number;
}

/** What `revoke` prints. */
export interface RevokeResult extends DeviceCommon {
  /** `ok`. */
  status: "ok";
  /** The environment. */
  environmentId: string;
  /** The device revoked. */
  clientId: string;
  /** Always true: the backend accepted the revocation. */
  changed: boolean;
}

function common(ctx: DaemonContext, session: DeviceSession): DeviceCommon {
  return {
    backend: "pid",
    pid: session.pid,
    serverName: session.view.serverName,
    remoteControlStatus: session.view.status,
    socketPath: ctx.paths.socketPath,
    appServerVersion: session.client.info.appServerVersion,
    codexdVersion: CODEXD_VERSION,
  };
}

async function call(
  ctx: DaemonContext,
  session: DeviceSession,
  method: string,
  params: unknown,
): Promise<unknown> {
  try {
    return await session.client.request(method, params, DEVICE_REQUEST_TIMEOUT_MS);
  } catch (error) {
    throw deviceRequestError(ctx, method, error);
  }
}

function malformed(ctx: DaemonContext, method: string, answer: unknown): CodexdError {
  return new CodexdError(
    "REMOTE_CONTROL_REQUEST_FAILED",
    `The app-server answered ${method} with ${JSON.stringify(answer).slice(0, 200)}`,
    `codexd logs --codex-home ${ctx.paths.codexHome}`,
  );
}

function environmentOf(ctx: DaemonContext, session: DeviceSession): string {
  const id = session.view.environmentId;
  if (id) return id;
  throw new CodexdError(
    "REMOTE_CONTROL_NOT_CONNECTED",
    `Remote control of ${ctx.paths.codexHome} has no environment yet (status "${session.view.status}")`,
    `codexd status --codex-home ${ctx.paths.codexHome}`,
  );
}

/**
 * Starts pairing: the codes a phone or desktop uses to add this host. With
 * `waitSeconds`, polls until the code is claimed (`paired`), expires
 * (`PAIRING_EXPIRED`) or the wait ends (`pairingPending`).
 *
 * @throws {CodexdError} see {@linkcode openDeviceSession}; `PAIRING_EXPIRED`;
 * `REMOTE_CONTROL_REQUEST_FAILED` when the backend refuses.
 * @example
 * ```ts ignore
 * import { pair } from "./pair.ts";
 * const { manualPairingCode, expiresAt } = await pair({ manualCode: true });
 * ```
 */
export async function pair(options: PairOptions = {}): Promise<PairResult> {
  const ctx = createContext(options);
  await using session = await openDeviceSession(ctx);
  const answer = await call(ctx, session, PAIRING_START_METHOD, {
    ...(options.manualCode ? { manualCode: true } : {}),
  });
  const pairing = parsePairing(answer);
  if (pairing === undefined) throw malformed(ctx, PAIRING_START_METHOD, answer);
  const expiresAtMs = Date.parse(pairing.expiresAt);
  const clock = ctx.clock;
  const deadlineMs = clock.now() + Math.max(0, options.waitSeconds ?? 0) * 1000;
  const pollMs = options.pollMs ?? PAIRING_POLL_MS;
  let claimed = false;
  let outcome = options.waitSeconds
    ? decidePairingPoll(false, clock.now(), expiresAtMs, deadlineMs)
    : "pending";
  while (outcome === "poll") {
    await clock.sleep(Math.max(0, Math.min(pollMs, deadlineMs - clock.now())));
    const status = await call(ctx, session, PAIRING_STATUS_METHOD, {
      pairingCode: pairing.pairingCode,
    }).catch((error) => {
      // Past expiry the backend forgets the code: that is an expiry, not a failure.
      if (clock.now() >= expiresAtMs) return { claimed: false };
      throw error;
    });
    claimed = (status as { claimed?: unknown } | null)?.claimed === true;
    outcome = decidePairingPoll(claimed, clock.now(), expiresAtMs, deadlineMs);
  }
  if (outcome === "expired") {
    throw new CodexdError(
      "PAIRING_EXPIRED",
      `The pairing code expired at ${pairing.expiresAt} before a device claimed it`,
      `codexd pair --codex-home ${ctx.paths.codexHome}`,
      { expiresAt: pairing.expiresAt, environmentId: pairing.environmentId },
    );
  }
  return {
    status: !options.waitSeconds ? "pairing" : claimed ? "paired" : "pairingPending",
    claimed,
    ...pairing,
    pairingLink: pairingLink(pairing.pairingCode),
    expiresInSeconds: Math.max(0, Math.round((expiresAtMs - clock.now()) / 1000)),
    ...common(ctx, session),
  };
}

/**
 * Lists every paired device of this host's environment, following
 * `nextCursor` (bounded by {@linkcode CLIENT_MAX_PAGES}).
 *
 * @throws {CodexdError} see {@linkcode openDeviceSession}; `REMOTE_CONTROL_NOT_CONNECTED`
 * before the host is enrolled; `REMOTE_CONTROL_REQUEST_FAILED`.
 */
export async function listClients(options: DaemonOptions = {}): Promise<ClientsResult> {
  const ctx = createContext(options);
  await using session = await openDeviceSession(ctx);
  const environmentId = environmentOf(ctx, session);
  const clients: RemoteClient[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < CLIENT_MAX_PAGES; page++) {
    const answer = await call(ctx, session, CLIENT_LIST_METHOD, {
      environmentId,
      limit: CLIENT_PAGE_LIMIT,
      ...(cursor !== null ? { cursor } : {}),
    });
    const parsed: ClientPage | undefined = parseClientPage(answer);
    if (parsed === undefined) throw malformed(ctx, CLIENT_LIST_METHOD, answer);
    clients.push(...parsed.data);
    if (parsed.nextCursor === null || parsed.nextCursor === cursor) break;
    cursor = parsed.nextCursor;
  }
  return { status: "ok", environmentId, clients, count: clients.length, ...common(ctx, session) };
}

/**
 * Revokes one paired device: it can no longer reach this host.
 *
 * @throws {CodexdError} see {@linkcode listClients}.
 */
export async function revokeClient(
  clientId: string,
  options: DaemonOptions = {},
): Promise<RevokeResult> {
  const ctx = createContext(options);
  await using session = await openDeviceSession(ctx);
  const environmentId = environmentOf(ctx, session);
  await call(ctx, session, CLIENT_REVOKE_METHOD, { environmentId, clientId });
  return { status: "ok", environmentId, clientId, changed: true, ...common(ctx, session) };
}
