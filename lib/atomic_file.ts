/**
 * Atomic writes and careful reads: every state file codexd owns is written
 * to a temp file in the same directory and renamed over the target, so a
 * reader (or a crash) never sees half a file, and a rename never follows a
 * planted symlink. Reads take regular files only (a FIFO would block every
 * command; a symlink could point anywhere, e.g. `/etc/shadow`), at most
 * {@linkcode MAX_STATE_FILE_BYTES}. Failures are coded (`STATE_UNREADABLE`,
 * `STATE_UNWRITABLE`, …), never raw Deno errors.
 *
 * @module
 */
import { CodexdError } from "./errors.ts";
import { fsError } from "./fs_errors.ts";
import { shellQuote } from "./shell_quote.ts";

/** The largest state file codexd reads; real ones hold a few hundred bytes. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the result. @default {0o600} */
  mode?: number;
}

/** Writes `text` to `path` via a uniquely named temp file and a rename. */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const { mode = 0o600 } = options;
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(temp, text, { mode, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw fsError(error, path, "write");
  }
}

/** Removes `path`; a file that is already gone counts as success. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw fsError(error, path, "write");
  }
}

function refuse(path: string, why: string): CodexdError {
  return new CodexdError(
    "STATE_UNREADABLE",
    `Cannot read ${path}: ${why}`,
    `remove ${shellQuote(path)} (codexd rewrites it)`,
  );
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symlink";
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/**
 * Reads a state file, or `undefined` when it does not exist. Only a regular
 * file is opened (lstat first: a FIFO would block, a symlink could point
 * anywhere), the opened file must be the one inspected (fstat vs lstat), and
 * at most `maxBytes` are accepted.
 *
 * @throws {CodexdError} `STATE_UNREADABLE`.
 */
export function readStateFileSync(
  path: string,
  maxBytes: number = MAX_STATE_FILE_BYTES,
): string | undefined {
  let before: Deno.FileInfo;
  try {
    before = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw fsError(error, path, "read");
  }
  if (!before.isFile) throw refuse(path, `it is ${kindOf(before)}, not a regular file`);
  if (before.size > maxBytes) {
    throw refuse(path, `it holds ${before.size} bytes, more than a state file ever does`);
  }
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw fsError(error, path, "read");
  }
  try {
    const info = file.statSync();
    if (info.ino !== before.ino || info.dev !== before.dev || !info.isFile) {
      throw refuse(path, "it was replaced while being read");
    }
    const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = file.readSync(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > maxBytes) throw refuse(path, `it holds more than ${maxBytes} bytes`);
    return new TextDecoder().decode(buffer.subarray(0, filled));
  } catch (error) {
    throw fsError(error, path, "read");
  } finally {
    file.close();
  }
}

/**
 * Reads a state file as text, or returns `undefined` when it does not exist
 * (see {@linkcode readStateFileSync}). Synchronous underneath on purpose:
 * state files are a few hundred bytes, and a sync read skips the async op
 * machinery that costs ~1 ms per first use on every CLI call (measured).
 *
 * @throws {CodexdError} `STATE_UNREADABLE`.
 */
export function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return Promise.resolve(readStateFileSync(path));
  } catch (error) {
    return Promise.reject(error);
  }
}
