/**
 * The record of the binary the running app-server was launched from, for
 * noticing out-of-band upgrades cheaply: `app-server-daemon/launched-binary`,
 * one line `<signature> <pid> <version> <path>`, written (atomically) at
 * every launch. The signature is `<dev>:<ino>:<size>:<mtime seconds>` of the
 * path with symlinks followed — exactly what `stat -L -c %d:%i:%s:%Y` (Linux)
 * or `stat -L -f %d:%i:%z:%m` (macOS) prints, so the updater's `sh` loop
 * compares it with one `stat` per check and starts Deno (`codexd
 * follow-binary`) only when it differs. The inode is part of it because npm
 * stamps every file of every release with the same mtime.
 *
 * A plain line, not JSON: the loop reads it with the `read` builtin.
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "./atomic_file.ts";
import { type DaemonPaths, join } from "./paths.ts";

/** Name of the record in the state directory. */
export const LAUNCHED_BINARY_FILE = "launched-binary";

/** The signature of a path that does not exist (what the loop writes when `stat` fails). */
export const MISSING_SIGNATURE = "missing";

/** What was launched. */
export interface LaunchedBinary {
  /** `<dev>:<ino>:<size>:<mtime s>` of `path` at launch, or `missing`. */
  signature: string;
  /** The app-server's pid. */
  pid: number;
  /** The version it runs (`?` when unknown). */
  version: string;
  /** The path launched, symlinks unresolved (e.g. `…/standalone/current/codex`, or `codexBin`). */
  path: string;
}

/** The path of the record. */
export function launchedBinaryPath(paths: DaemonPaths): string {
  return join(paths.stateDir, LAUNCHED_BINARY_FILE);
}

/** `stat(1)`'s flag and format printing a signature, per OS. */
export function statFormat(os: typeof Deno.build.os = Deno.build.os): [string, string] {
  return os === "darwin" || os.endsWith("bsd") ? ["-f", "%d:%i:%z:%m"] : ["-c", "%d:%i:%s:%Y"];
}

/** The signature of a stat result (pure). */
export function signatureOf(info: Deno.FileInfo): string {
  const mtime = Math.floor((info.mtime?.getTime() ?? 0) / 1000);
  return `${info.dev}:${info.ino ?? 0}:${info.size}:${mtime}`;
}

/** The signature of `path` now, following symlinks; `missing` when it cannot be read. */
export function signatureNow(path: string): string {
  try {
    // Sync: on the launch path, an async stat's first use costs ~2-4 ms (bench/profile.ts restart).
    return signatureOf(Deno.statSync(path));
  } catch {
    return MISSING_SIGNATURE;
  }
}

/** Parses the record line (pure); `undefined` when it is not one. */
export function parseLaunchedBinary(text: string): LaunchedBinary | undefined {
  const match = /^(\S+) (\d+) (\S+) (\/.*)$/.exec(text.replace(/\n$/, ""));
  if (match === null) return undefined;
  return { signature: match[1], pid: Number(match[2]), version: match[3], path: match[4] };
}

/** The record line (pure); `undefined` for a path the loop could not read back. */
export function formatLaunchedBinary(record: LaunchedBinary): string | undefined {
  // deno-lint-ignore no-control-regex
  if (!record.path.startsWith("/") || /[\u0000-\u001f]/.test(record.path)) return undefined;
  // `read` trims trailing blanks: such a path would come back as another one.
  if (/\s$/.test(record.path)) return undefined;
  const version = /^\S+$/.test(record.version) ? record.version : "?";
  return `${record.signature} ${record.pid} ${version} ${record.path}\n`;
}

/** Reads the record; missing or malformed reads as none. */
export async function readLaunchedBinary(paths: DaemonPaths): Promise<LaunchedBinary | undefined> {
  try {
    const text = await readTextIfPresent(launchedBinaryPath(paths));
    return text === undefined ? undefined : parseLaunchedBinary(text);
  } catch {
    return undefined;
  }
}

/** Writes the record (or removes it when the path cannot be watched). */
export async function writeLaunchedBinary(
  paths: DaemonPaths,
  record: LaunchedBinary,
): Promise<void> {
  const line = formatLaunchedBinary(record);
  if (line === undefined) return await removeLaunchedBinary(paths);
  await writeFileAtomic(launchedBinaryPath(paths), line);
}

/** Removes the record: nothing to watch. */
export async function removeLaunchedBinary(paths: DaemonPaths): Promise<void> {
  await removeIfPresent(launchedBinaryPath(paths));
}
