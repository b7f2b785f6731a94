/**
 * Downloading a release tarball: streamed to a file while its sha512 is
 * computed, checked against npm's `dist.integrity`, abandoned when it
 * stalls. Writes only the file it is given.
 *
 * Off the hot path, so it may use `node:crypto` for streaming hashing.
 *
 * @module
 */
import { createNewFileSync } from "../state/atomic_file.ts";
import { CodexdError } from "../errors.ts";
import { installFailed } from "./step.ts";

/**
 * The throughput window: a download that receives fewer than
 * {@linkcode DOWNLOAD_MIN_BYTES_PER_WINDOW} bytes in any window this long is
 * abandoned (a stall receives none; a trickle receives too few).
 */
export const DOWNLOAD_STALL_MS = 60_000;
/** Least bytes per throughput window: 1 MiB a minute, ~17 KiB/s. */
export const DOWNLOAD_MIN_BYTES_PER_WINDOW = 1024 * 1024;
/** Bound on a whole download (167 MB for codex 0.169.0 takes seconds on a normal link). */
export const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;
/** Most bytes a tarball may have, whatever the server says (codex 0.169.0: 167 MB). */
export const DOWNLOAD_MAX_BYTES = 512 * 1024 * 1024;

/** Bounds of {@linkcode download}. */
export interface DownloadLimits {
  /** Throughput window. @default {DOWNLOAD_STALL_MS} */
  stallMs?: number;
  /** Least bytes per window. @default {DOWNLOAD_MIN_BYTES_PER_WINDOW} */
  minBytesPerWindow?: number;
  /** Bound on the whole download. @default {DOWNLOAD_TIMEOUT_MS} */
  deadlineMs?: number;
  /** Size cap. @default {DOWNLOAD_MAX_BYTES} */
  maxBytes?: number;
}

/**
 * Refuses anything but an `http:`/`https:` URL (`fetch` would also read
 * `file:` and `data:` URLs).
 *
 * @throws {CodexdError} `INSTALL_FAILED`.
 */
export function requireHttpUrl(url: string, what: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw installFailed(`${what} ${JSON.stringify(url)} is not an http(s) URL`);
  }
  return parsed;
}

/**
 * Reads a response body of at most `maxBytes` (an endless body is cut off
 * there instead of filling memory).
 */
export async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (response.body === null) return new Uint8Array();
  for await (const chunk of response.body) {
    length += chunk.length;
    if (length > maxBytes) throw new Error(`more than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Parses an SRI string (`sha512-<base64>`, possibly several space-separated
 * hashes) into the sha512 digest as hex.
 *
 * @throws {CodexdError} `INSTALL_FAILED` when it carries no sha512.
 */
export function parseIntegrity(integrity: string): string {
  const match = /(?:^|\s)sha512-([A-Za-z0-9+/=]+)/.exec(integrity);
  if (!match) {
    throw new CodexdError("INSTALL_FAILED", `Cannot verify download: no sha512 in "${integrity}"`);
  }
  const bytes = atob(match[1]);
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += bytes.charCodeAt(i).toString(16).padStart(2, "0");
  return hex;
}

/** What to download: the tarball URL and its SRI integrity. */
export interface TarballRef {
  /** The tarball URL from the registry metadata. */
  tarball: string;
  /** `dist.integrity`. */
  integrity: string;
}

/**
 * Streams the tarball to `file` while hashing, then verifies sha512. Bounded
 * in size (Content-Length and `maxBytes`), in time (`deadlineMs`) and in
 * throughput (`minBytesPerWindow` per `stallMs`); `signal` aborts it.
 *
 * @throws {CodexdError} `INSTALL_FAILED` (the caller maps an abort).
 */
export async function download(
  dist: TarballRef,
  file: string,
  options: DownloadLimits & {
    signal?: AbortSignal;
    onProgress?: (received: number, total?: number) => void;
  } = {},
): Promise<void> {
  const {
    stallMs = DOWNLOAD_STALL_MS,
    minBytesPerWindow = DOWNLOAD_MIN_BYTES_PER_WINDOW,
    deadlineMs = DOWNLOAD_TIMEOUT_MS,
    maxBytes = DOWNLOAD_MAX_BYTES,
    signal,
    onProgress,
  } = options;
  requireHttpUrl(dist.tarball, "tarball URL");
  const expected = parseIntegrity(dist.integrity);
  const controller = new AbortController();
  let why = "";
  const stop = (reason: string): void => {
    why ||= reason;
    controller.abort();
  };
  let received = 0;
  let windowStart = 0;
  // A window's worth of bytes must arrive in every window: a per-chunk stall
  // timer would let a 1-byte-per-20-s trickle run forever.
  const window = setInterval(() => {
    const got = received - windowStart;
    windowStart = received;
    if (got === 0) stop(` stalled for ${stallMs} ms`);
    else if (got < minBytesPerWindow) {
      stop(` too slow: ${got} bytes in ${stallMs} ms (at least ${minBytesPerWindow} needed)`);
    }
  }, stallMs);
  const deadline = setTimeout(() => stop(` did not finish within ${deadlineMs} ms`), deadlineMs);
  const onAbort = (): void => stop(" interrupted");
  signal?.addEventListener("abort", onAbort, { once: true });
  // Imported here, not at the top: in the one-file bundle a static
  // `node:crypto` import would load Node's compatibility layer on every CLI
  // call (~20 ms), not only on downloads.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha512");
  let total: number | undefined;
  const out = createNewFileSync(file);
  try {
    if (signal?.aborted) onAbort();
    const response = await fetch(dist.tarball, { signal: controller.signal });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    total = Number(response.headers.get("content-length")) || undefined;
    if (total !== undefined && total > maxBytes) {
      await response.body.cancel();
      throw new Error(`Content-Length ${total} exceeds the ${maxBytes}-byte cap`);
    }
    const cap = Math.min(total ?? maxBytes, maxBytes);
    for await (const chunk of response.body) {
      if (received + chunk.length > cap) {
        stop(` exceeded ${cap === total ? "its Content-Length" : "the size cap"} of ${cap} bytes`);
        throw new Error("too large");
      }
      hash.update(chunk);
      let written = 0;
      while (written < chunk.length) written += await out.write(chunk.subarray(written));
      received += chunk.length;
      onProgress?.(received, total);
    }
  } catch (error) {
    throw installFailed(`download ${dist.tarball}${why} after ${received} bytes`, error);
  } finally {
    clearInterval(window);
    clearTimeout(deadline);
    signal?.removeEventListener("abort", onAbort);
    out.close();
  }
  if (total !== undefined && received !== total) {
    throw installFailed(`download ${dist.tarball} truncated: ${received} of ${total} bytes`);
  }
  const actual = hash.digest("hex");
  if (actual !== expected) {
    throw installFailed(
      `integrity mismatch for ${dist.tarball} (${received} bytes): expected sha512 ${
        expected.slice(0, 16)
      }…, got ${actual.slice(0, 16)}…`,
    );
  }
}
