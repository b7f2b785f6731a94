/**
 * The app-server's pairing and device API as codexd sees it, and the pure
 * decisions made on it. No I/O here.
 *
 * Methods (experimental; measured on 0.169.0 and 0.171.0):
 * `remoteControl/pairing/start {manualCode?}` → `{pairingCode,
 * manualPairingCode, environmentId, expiresAt: unix seconds}`;
 * `remoteControl/pairing/status {pairingCode? | manualPairingCode?}` →
 * `{claimed}`; `remoteControl/client/list {environmentId, cursor?, limit?,
 * order?}` → `{data: [{clientId, displayName, deviceType, platform,
 * osVersion, deviceModel, appVersion, lastSeenAt: unix seconds}],
 * nextCursor}`; `remoteControl/client/revoke {environmentId, clientId}` →
 * `{}`.
 *
 * `pairingCode` is an opaque token meant to be scanned: the desktop app
 * shows it as a QR code of {@linkcode PAIRING_LINK_BASE}`<code>`, which the
 * ChatGPT app opens. `manualPairingCode` (asked for with `manualCode`) is
 * the short code a person types.
 *
 * @module
 */

/** Start a pairing: the backend hands out codes that a phone or desktop claims. */
export const PAIRING_START_METHOD = "remoteControl/pairing/start";
/** Whether a pairing was claimed. */
export const PAIRING_STATUS_METHOD = "remoteControl/pairing/status";
/** The paired devices of an environment (paged). */
export const CLIENT_LIST_METHOD = "remoteControl/client/list";
/** Revoke one paired device. */
export const CLIENT_REVOKE_METHOD = "remoteControl/client/revoke";
/** The link a scanned pairing code stands for (the desktop app's QR code). */
export const PAIRING_LINK_BASE = "https://chatgpt.com/codex/pair?pairing_code=";

/** A pairing the backend handed out. */
export interface Pairing {
  /** The opaque code a phone scans (as {@linkcode pairingLink}). */
  pairingCode: string;
  /** The short code a person types, when asked for (`--manual-code`), else `null`. */
  manualPairingCode: string | null;
  /** The host's remote-control environment. */
  environmentId: string;
  /** When the codes stop working, as an ISO time. */
  expiresAt: string;
}

/** One paired device. */
export interface RemoteClient {
  /** The id `revoke` takes. */
  clientId: string;
  /** The name the device gave itself. */
  displayName: string | null;
  /** E.g. `mobile`, `desktop`. */
  deviceType: string | null;
  /** E.g. `ios`, `macos`. */
  platform: string | null;
  /** The device's OS version. */
  osVersion: string | null;
  /** The device's model. */
  deviceModel: string | null;
  /** The client app's version. */
  appVersion: string | null;
  /** When the backend last saw it, as an ISO time, or `null`. */
  lastSeenAt: string | null;
}

/** One page of {@linkcode CLIENT_LIST_METHOD}. */
export interface ClientPage {
  /** The devices on this page. */
  data: RemoteClient[];
  /** The cursor of the next page, or `null` at the end. */
  nextCursor: string | null;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** Unix seconds (or an ISO string, passed through normalized) as an ISO time; `null` otherwise. */
export function isoTime(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) {
    return new Date(value * 1000).toISOString();
  }
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : new Date(parsed).toISOString();
  }
  return null;
}

/** The link a phone opens for `pairingCode`. */
export function pairingLink(pairingCode: string): string {
  return PAIRING_LINK_BASE + encodeURIComponent(pairingCode);
}

/** Parses a `pairing/start` answer; `undefined` when it is not one. */
export function parsePairing(value: unknown): Pairing | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const expiresAt = isoTime(record.expiresAt);
  if (
    typeof record.pairingCode !== "string" || typeof record.environmentId !== "string" ||
    expiresAt === null
  ) {
    return undefined;
  }
  return {
    pairingCode: record.pairingCode,
    manualPairingCode: optionalString(record.manualPairingCode),
    environmentId: record.environmentId,
    expiresAt,
  };
}

/** Parses a `client/list` answer; `undefined` when it is not one. */
export function parseClientPage(value: unknown): ClientPage | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record.data)) return undefined;
  const data: RemoteClient[] = [];
  for (const item of record.data) {
    if (typeof item !== "object" || item === null) return undefined;
    const c = item as Record<string, unknown>;
    if (typeof c.clientId !== "string") return undefined;
    data.push({
      clientId: c.clientId,
      displayName: optionalString(c.displayName),
      deviceType: optionalString(c.deviceType),
      platform: optionalString(c.platform),
      osVersion: optionalString(c.osVersion),
      deviceModel: optionalString(c.deviceModel),
      appVersion: optionalString(c.appVersion),
      lastSeenAt: isoTime(c.lastSeenAt),
    });
  }
  return { data, nextCursor: optionalString(record.nextCursor) };
}

/** What a `pair --wait-seconds` loop does next. */
export type PairingPoll =
  /** The code was claimed: done. */
  | "paired"
  /** The code expired unclaimed. */
  | "expired"
  /** The wait ran out first (the code still works). */
  | "pending"
  /** Ask again after the poll interval. */
  | "poll";

/**
 * Decides the next step of waiting for a claim: claimed wins, then expiry,
 * then the end of the wait. Times in epoch milliseconds.
 */
export function decidePairingPoll(
  claimed: boolean,
  nowMs: number,
  expiresAtMs: number,
  deadlineMs: number,
): PairingPoll {
  if (claimed) return "paired";
  if (nowMs >= expiresAtMs) return "expired";
  if (nowMs >= deadlineMs) return "pending";
  return "poll";
}
