/**
 * Atomic writes and careful reads: every state file codexd owns is written
 * to a temp file in the same directory and renamed over the target, so a
 * reader (or a crash) never sees half a file, and a rename never follows a
 * planted symlink. Reads take regular files only (a FIFO would block every
 * command; a symlink could point anywhere, e.g. `/etc/shadow`), at most
 * {@linkcode MAX_STATE_FILE_BYTES}. Failures are coded (`STATE_UNREADABLE`,
 * `STATE_UNWRITABLE`, …), never raw Deno errors: a CODEX_HOME that is a
 * file, read-only, another user's, full, or a state file that is a directory
 * or a FIFO are things a user can cause, so none of them may surface as
 * `INTERNAL`. Reads fail `STATE_UNREADABLE`, writes `STATE_UNWRITABLE`, a path
 * through a non-directory `HOME_INVALID`, Deno's own sandbox
 * `PERMISSION_DENIED`, each with a hint ({@linkcode fsError}).
 *
 * @module
 */
import { CodexdError, describeError, shellQuote } from "./errors.ts";
import { dirname } from "@std/path/posix/dirname";

/** The largest state file codexd reads; real ones hold a few hundred bytes. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the result. @default {0o600} */
  mode?: number;
}

/**
 * Writes `text` to `path` via a uniquely named temp file and a rename.
 * Synchronous underneath: state files are a few hundred bytes, and the async
 * write and rename ops cost ~0.4–2 ms on first use in a fresh CLI process
 * (measured) against ~0.1 ms each for the sync ones. The temp name's suffix
 * comes from `Math.random` (`crypto.randomUUID` costs ~0.2 ms on first use);
 * `createNew` refuses a name that is somehow taken.
 */
export function writeFileAtomic(
  path: string,
  text: string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const { mode = 0o600 } = options;
  const temp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    Deno.writeTextFileSync(temp, text, { mode, createNew: true });
    Deno.renameSync(temp, path);
    return Promise.resolve();
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // never created, or already renamed
    }
    return Promise.reject(fsError(error, path, "write"));
  }
}

/**
 * Whether `path` exists: `stat` follows symlinks (a binary behind `current`);
 * `{ follow: false }` looks at the entry itself (a marker, a link).
 */
export function pathExists(path: string, options: { follow?: boolean } = {}): boolean {
  try {
    if (options.follow === false) Deno.lstatSync(path);
    else Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes `path`; a file that is already gone counts as success. A sync op
 * underneath, as for every small state file (the async one costs more on
 * first use in a CLI call).
 */
export function removeIfPresent(path: string): Promise<void> {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      return Promise.reject(fsError(error, path, "write"));
    }
  }
  return Promise.resolve();
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
 * file is read (lstat first: a FIFO would block, a symlink could point
 * anywhere), and at most `maxBytes` are accepted.
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
  // One read op after the lstat (an open + fstat + read costs ~10x more on
  // every CLI call, measured). The lstat-to-read window only matters where
  // another user can write the state dir, which the home check refuses
  // (or root accepted with --allow-foreign-home).
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw fsError(error, path, "read");
  }
  if (bytes.length > maxBytes) throw refuse(path, `it holds more than ${maxBytes} bytes`);
  return new TextDecoder().decode(bytes);
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

// --- coded file-system errors ---

/** Whether a failure came from reading or from writing. */
export type FsAction = "read" | "write";

/** The OS reason in a Deno error message, e.g. "No space left on device (os error 28)". */
function osReason(error: unknown): string {
  const message = describeError(error);
  const match = /^([^:(]+?)\s*\(os error \d+\)/.exec(message);
  return match ? match[1].toLowerCase() : message;
}

/**
 * Maps a file-system error on `path` to a {@linkcode CodexdError}; a
 * `CodexdError` passes through unchanged.
 */
export function fsError(error: unknown, path: string, action: FsAction): CodexdError {
  if (error instanceof CodexdError) return error;
  const message = describeError(error);
  if (error instanceof Deno.errors.NotCapable) {
    return new CodexdError(
      "PERMISSION_DENIED",
      `Cannot ${action} ${path}: Deno denied it (${message})`,
      "deno run -A jsr:@codexd/daemon <command>",
    );
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new CodexdError(
      "HOME_INVALID",
      `Cannot ${action} ${path}: a part of the path is not a directory`,
      `check CODEX_HOME (ls -ld ${shellQuote(dirname(dirname(path)))})`,
    );
  }
  const code = action === "read" ? "STATE_UNREADABLE" : "STATE_UNWRITABLE";
  const reason = osReason(error);
  let hint = `check ${shellQuote(dirname(path))} (ls -ld; owner and mode)`;
  if (/no space left|quota/i.test(message)) {
    hint = `free space on the file system of ${dirname(path)}`;
  } else if (/read-only file system/i.test(message)) {
    hint = `CODEX_HOME is on a read-only file system; use a writable --codex-home`;
  } else if (error instanceof Deno.errors.IsADirectory || /is a directory/i.test(message)) {
    hint = `remove ${shellQuote(path)}`;
  }
  return new CodexdError(code, `Cannot ${action} ${path}: ${reason}`, hint);
}

/**
 * Maps whatever escaped to the library's boundary: coded errors pass, raw
 * Deno file-system errors get a code (the path from their message), anything
 * else passes unchanged (a bug: `INTERNAL`).
 */
export function codeEscapedError(error: unknown): unknown {
  if (error instanceof CodexdError || !(error instanceof Error)) return error;
  const isFs = Object.values(Deno.errors).some((kind) => error instanceof kind) &&
    !(error instanceof Deno.errors.Interrupted);
  if (!isFs) return error;
  const path = /'([^']+)'/.exec(error.message)?.[1] ?? "a CODEX_HOME file";
  const write = /\b(write|mkdir|rename|remove|unlink|chmod|truncate|copy|symlink)/i.test(
    error.message,
  );
  return fsError(error, path, write ? "write" : "read");
}
