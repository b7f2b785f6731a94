/**
 * The stderr logs of the app-server and the updater: rotated at every spawn
 * (the previous run becomes `.1`), capped in size with a few numbered backups
 * (checked on every updater pass), and read back as tails for error messages
 * and `codexd logs`.
 *
 * @module
 */
import { createNewFileSync, openNoFollowSync } from "./atomic_file.ts";

/** A log larger than this is rotated on the next check. */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;
/** How many rotated backups (`.1` … `.N`) are kept. */
export const LOG_BACKUPS = 3;

/** Options for {@linkcode rotateLog}. */
export interface RotateOptions {
  /** Rotate only when the log exceeds this many bytes; 0 rotates any non-empty log. @default {0} */
  minBytes?: number;
  /** @default {LOG_BACKUPS} */
  backups?: number;
  /**
   * Copy then truncate instead of renaming, for a log a running process still
   * appends to (its O_APPEND descriptor keeps writing at the new end).
   * @default {false}
   */
  copyTruncate?: boolean;
}

/** Size of a regular file; -1 when missing, not regular, or a symlink (never rotated or copied). */
function sizeOf(path: string): number {
  try {
    const info = Deno.lstatSync(path);
    return info.isFile ? info.size : -1;
  } catch {
    return -1;
  }
}

/**
 * Makes sure `logFile` exists as a regular file of mode 0600 before a shell
 * appends to it. A symlink or other non-regular file in its place is removed
 * first (a planted link must not make a root-run codexd append elsewhere).
 */
export function createPrivateLog(logFile: string): void {
  try {
    const info = Deno.lstatSync(logFile);
    if (!info.isFile) Deno.removeSync(logFile);
    else if (info.mode !== null && (info.mode & 0o077) !== 0) Deno.chmodSync(logFile, 0o600);
    if (info.isFile) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return;
  }
  try {
    // createNew (O_EXCL) never follows a symlink that appeared meanwhile.
    createNewFileSync(logFile).close();
  } catch {
    // someone else created it first: the shell appends to whatever is there
  }
}

/**
 * Shifts `log.1`… up by one and moves the current log to `log.1`. Sync file
 * ops underneath: this runs before every app-server spawn, where the async
 * ones would cost ~1 ms more on first use (measured).
 */
export function rotateLog(
  logFile: string,
  options: RotateOptions = {},
): Promise<boolean> {
  const { minBytes = 0, backups = LOG_BACKUPS, copyTruncate = false } = options;
  const size = sizeOf(logFile);
  if (size <= 0 || size < minBytes) return Promise.resolve(false);
  try {
    for (let i = backups - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${logFile}.${i}`, `${logFile}.${i + 1}`);
      } catch {
        // no such backup yet
      }
    }
    if (copyTruncate) {
      // copyFile would write through a planted `.1` symlink: make sure none is there.
      try {
        Deno.removeSync(`${logFile}.1`);
      } catch {
        // not there
      }
      copyThenTruncate(logFile, `${logFile}.1`);
    } else {
      Deno.renameSync(logFile, `${logFile}.1`);
    }
    return Promise.resolve(true);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Copies `logFile` to a new `backup` and empties it, through the safe-write
 * helpers: neither the log nor the backup is ever a symlink's target
 * (copyFile and truncate would follow one planted meanwhile).
 */
function copyThenTruncate(logFile: string, backup: string): void {
  const source = openNoFollowSync(logFile, { create: false, label: "log" });
  try {
    const copy = createNewFileSync(backup);
    try {
      const buffer = new Uint8Array(64 * 1024);
      for (let n = source.readSync(buffer); n !== null; n = source.readSync(buffer)) {
        let written = 0;
        while (written < n) written += copy.writeSync(buffer.subarray(written, n));
      }
    } finally {
      copy.close();
    }
    source.truncateSync(0);
  } finally {
    source.close();
  }
}

/** Rotates a log that a live process appends to, when it has grown too big. */
export function capLog(logFile: string, maxBytes = MAX_LOG_BYTES): Promise<boolean> {
  return rotateLog(logFile, { minBytes: maxBytes, copyTruncate: true });
}

/**
 * Caps both logs of a CODEX_HOME; never throws (a full disk must not turn a
 * pass into a failure). Run on every updater pass, failed ones included, and
 * at every app-server spawn, so a log cannot grow while passes fail.
 */
export async function capLogs(
  paths: { logFile: string; updaterLogFile: string },
  maxBytes = MAX_LOG_BYTES,
): Promise<void> {
  await capLog(paths.logFile, maxBytes).catch(() => false);
  await capLog(paths.updaterLogFile, maxBytes).catch(() => false);
}

/** The last `lines` lines of a file (reads at most the last 64 KiB). */
export async function tailFile(path: string, lines: number): Promise<string[]> {
  // A regular file only: opening a FIFO planted as a log would block `logs` forever.
  if (sizeOf(path) < 0) return [];
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return [];
  }
  try {
    const size = (await file.stat()).size;
    const window = Math.min(size, 64 * 1024);
    await file.seek(size - window, Deno.SeekMode.Start);
    const buffer = new Uint8Array(window);
    let filled = 0;
    while (filled < window) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    const text = new TextDecoder().decode(buffer.subarray(0, filled));
    const all = text.split("\n");
    if (all.at(-1) === "") all.pop();
    return lines <= 0 ? [] : all.slice(-lines);
  } finally {
    file.close();
  }
}
