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
 * This file is the one way codexd writes a file (a structural test greps
 * `lib/` for raw writes elsewhere): whole files by {@linkcode writeFileAtomic}
 * (temp + rename, capped at {@linkcode MAX_STATE_FILE_BYTES}), log lines by
 * {@linkcode appendLineSafe} (a regular file only, opened without following
 * a symlink, control characters stripped, line and file size capped), files
 * kept open (locks, downloads) by {@linkcode openNoFollowSync} and
 * {@linkcode createNewFileSync}. Root acting on a user's home
 * (`--allow-foreign-home`) writes where that user can plant links and
 * choose text: none of these follows a link or lets a newline through a
 * field.
 *
 * @module
 */
import { CodexdError, shellQuote } from "../errors.ts";
import { knownAbsent, notePresence } from "./listing.ts";
import { fsError } from "./fs_errors.ts";
import { dirname } from "@std/path/posix/dirname";

/** The largest state file codexd reads; real ones hold a few hundred bytes. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** The longest line {@linkcode appendLineSafe} writes; longer ones are cut. */
export const MAX_LINE_CHARS = 4096;
/** A file {@linkcode appendLineSafe} no longer appends to (logs are capped at 4 MiB per pass). */
export const MAX_APPEND_FILE_BYTES = 16 * 1024 * 1024;

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the result. @default {0o600} */
  mode?: number;
  /** The largest text written; more is refused (`STATE_UNWRITABLE`). @default {MAX_STATE_FILE_BYTES} */
  maxBytes?: number;
}

/**
 * One field of a line, made safe: newlines folded to ` | `, tabs to spaces,
 * every other control character (C0, DEL, C1) removed, so text a user chose (a
 * `reason` in a state file, an error message) can never start a line of its
 * own in a log that root writes.
 */
export function sanitizeLineText(text: string): string {
  const folded = text.replace(/\s*[\r\n]+\s*/g, " | ").replace(/\t/g, " ");
  // deno-lint-ignore no-control-regex
  return folded.replace(/[\x00-\x1f\x7f-\x9f]/g, "");
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
  const { mode = 0o600, maxBytes = MAX_STATE_FILE_BYTES } = options;
  if (text.length > maxBytes) {
    return Promise.reject(
      new CodexdError(
        "STATE_UNWRITABLE",
        `Cannot write ${path}: ${text.length} characters, more than the ${maxBytes} a state file may hold`,
      ),
    );
  }
  const temp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    Deno.writeTextFileSync(temp, text, { mode, createNew: true });
    Deno.renameSync(temp, path);
    notePresence(path, true);
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

function planted(path: string, label: string, what: string): CodexdError {
  return new CodexdError(
    "HOME_UNSAFE",
    `Refusing ${label} ${path}: ${what}; codexd never writes through it`,
    `rm ${shellQuote(path)}`,
  );
}

/** Options for {@linkcode openNoFollowSync}. */
export interface OpenNoFollowOptions {
  /** Open for appending instead of writing at the start. @default {false} */
  append?: boolean;
  /** Open for reading too. @default {true} */
  read?: boolean;
  /** Mode of a file created here. @default {0o600} */
  mode?: number;
  /** Create the file when missing. @default {true} */
  create?: boolean;
  /** What the file is, for the message (`daemon lock`, `log`). @default {"file"} */
  label?: string;
}

/**
 * Opens `path` for writing without ever following a symlink: a planted
 * `daemon.lock -> /etc/something` must not make a root-run codexd write the
 * file it points to. An existing file must be a regular file (lstat), and
 * the opened file must be that same file (fstat vs lstat, closing the swap
 * race); a missing one is created with O_EXCL (`createNew`), which refuses a
 * symlink, even a dangling one.
 *
 * @throws {CodexdError} `HOME_UNSAFE` for a symlink or other non-regular
 * file; raw Deno errors otherwise (`NotFound` when `create` is false or the
 * directory is missing), for the caller to map with {@linkcode fsError}.
 */
export function openNoFollowSync(path: string, options: OpenNoFollowOptions = {}): Deno.FsFile {
  const { append = false, read = true, mode = 0o600, create = true, label = "file" } = options;
  let before: Deno.FileInfo | undefined;
  try {
    before = Deno.lstatSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || !create) throw error;
  }
  const access = append ? { read, append: true } : { read, write: true };
  if (before === undefined) {
    try {
      return Deno.openSync(path, { ...access, createNew: true, mode });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      return openNoFollowSync(path, options); // created meanwhile by a concurrent command
    }
  }
  if (!before.isFile) {
    throw planted(path, label, before.isSymlink ? "it is a symlink" : "it is not a regular file");
  }
  const file = Deno.openSync(path, access);
  const opened = file.statSync();
  if (opened.ino !== before.ino || opened.dev !== before.dev) {
    file.close();
    throw planted(path, label, "it was replaced while being opened");
  }
  return file;
}

/**
 * Creates `path` as a new file (O_EXCL: never through a symlink, never over
 * an existing file) and returns it open for writing, with exactly `mode`
 * whatever the umask (re-checked by inode before the chmod, which follows
 * links).
 */
export function createNewFileSync(path: string, mode = 0o600): Deno.FsFile {
  const file = Deno.openSync(path, { write: true, createNew: true, mode });
  const created = file.statSync();
  if (created.mode !== null && (created.mode & 0o7777) !== mode) {
    const now = Deno.lstatSync(path);
    if (now.isFile && now.ino === created.ino && now.dev === created.dev) {
      Deno.chmodSync(path, mode);
    }
  }
  return file;
}

/** Options for {@linkcode appendLineSafe}. */
export interface AppendLineOptions {
  /** Longest line kept (longer is cut). @default {MAX_LINE_CHARS} */
  maxLineChars?: number;
  /** No append once the file holds this many bytes. @default {MAX_APPEND_FILE_BYTES} */
  maxFileBytes?: number;
}

/**
 * Appends `text` as one line (sanitised by {@linkcode sanitizeLineText},
 * cut at `maxLineChars`) to a regular file that is not a symlink, in a
 * directory that is not a symlink, creating it 0600 when missing. Returns
 * whether the line was written. Never throws: a log that cannot be written
 * (full disk, planted link, over the cap) must not fail the caller.
 */
export function appendLineSafe(
  path: string,
  text: string,
  options: AppendLineOptions = {},
): boolean {
  const { maxLineChars = MAX_LINE_CHARS, maxFileBytes = MAX_APPEND_FILE_BYTES } = options;
  let file: Deno.FsFile | undefined;
  try {
    // A symlinked directory would put a "log" wherever its target is.
    if (!Deno.lstatSync(dirname(path)).isDirectory) return false;
    file = openNoFollowSync(path, { append: true, read: false, label: "log" });
    if (file.statSync().size >= maxFileBytes) return false;
    const line = sanitizeLineText(text).slice(0, maxLineChars);
    const bytes = new TextEncoder().encode(`${line}\n`);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    return true;
  } catch {
    return false;
  } finally {
    file?.close();
  }
}

/**
 * Whether `path` exists: `stat` follows symlinks (a binary behind `current`);
 * `{ follow: false }` looks at the entry itself (a marker, a link).
 */
export function pathExists(path: string, options: { follow?: boolean } = {}): boolean {
  if (knownAbsent(path)) return false;
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
  if (knownAbsent(path)) return Promise.resolve();
  try {
    Deno.removeSync(path);
    notePresence(path, false);
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
  // Known absent under the lock (listing.ts): no failed stat.
  if (knownAbsent(path)) return undefined;
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
