/**
 * Downloading a release tarball: streamed to a file while its sha512 is
 * computed, checked against npm's `dist.integrity`, abandoned when it
 * stalls. Writes only the file it is given.
 *
 * Off the hot path, so it may use `node:crypto` for streaming hashing.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CodexdError } from "../errors.ts";
import { installFailed } from "./step.ts";

/** A download that receives nothing for this long is abandoned. */
export const DOWNLOAD_STALL_MS = 60_000;

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

/** Streams the tarball to `file` while hashing; verifies sha512 and abandons stalls. */
export async function download(
  dist: TarballRef,
  file: string,
  stallMs: number,
  onProgress?: (received: number, total?: number) => void,
): Promise<void> {
  const expected = parseIntegrity(dist.integrity);
  const controller = new AbortController();
  let stall = setTimeout(() => controller.abort(), stallMs);
  const hash = createHash("sha512");
  let received = 0;
  let total: number | undefined;
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  try {
    const response = await fetch(dist.tarball, { signal: controller.signal });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    total = Number(response.headers.get("content-length")) || undefined;
    for await (const chunk of response.body) {
      clearTimeout(stall);
      stall = setTimeout(() => controller.abort(), stallMs);
      hash.update(chunk);
      let written = 0;
      while (written < chunk.length) written += await out.write(chunk.subarray(written));
      received += chunk.length;
      onProgress?.(received, total);
    }
  } catch (error) {
    const stalled = controller.signal.aborted ? ` stalled for ${stallMs} ms` : "";
    throw installFailed(`download ${dist.tarball}${stalled} after ${received} bytes`, error);
  } finally {
    clearTimeout(stall);
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
