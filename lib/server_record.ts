/**
 * The app-server's pid record under both names in use: codexd's and older
 * references' `app-server.pid`, and `daemon.pid`, which the reference (codex
 * 0.169) reads and writes. Both hold the same JSON shape (`pid`,
 * `processStartTime`, `processIdentity`; the reference adds
 * `executableIdentity`, which codexd keeps and ignores), so codexd writes its
 * record under both names and reads either: a server either tool started is
 * managed by both.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic_file.ts";
import type { DaemonPaths } from "./paths.ts";
import {
  type PidRecord,
  type PidState,
  readPidState,
  removePidRecord,
  writePidRecord,
} from "./pid_record.ts";

/** A pid state and the record file it came from. */
export type ServerState = PidState & { file: string };

/** The record files, codexd's own first. */
export function serverRecordFiles(paths: DaemonPaths): string[] {
  return [paths.pidFile, paths.referencePidFile];
}

/** Which verdict wins when the two files disagree: a live server first. */
const PRECEDENCE: Record<PidState["kind"], number> = {
  running: 0,
  unverifiable: 1,
  stale: 2,
  missing: 3,
};

/** Picks the state that describes the server best (pure; tested by a table). */
export function pickServerState(states: ServerState[]): ServerState {
  return [...states].sort((a, b) => PRECEDENCE[a.kind] - PRECEDENCE[b.kind])[0];
}

/** Reads both record files and returns the best verdict. */
export async function readServerState(paths: DaemonPaths): Promise<ServerState> {
  // codexd's own record first: when it names a live server (the common
  // case) the reference's file cannot say anything better.
  const ours = { ...(await readPidState(paths.pidFile)), file: paths.pidFile };
  if (ours.kind === "running") return ours;
  const reference = {
    ...(await readPidState(paths.referencePidFile)),
    file: paths.referencePidFile,
  };
  return pickServerState([ours, reference]);
}

/**
 * Records `pid` under both names (codexd's first, so a crash between the two
 * writes still leaves codexd's record). `undefined` when it is already gone.
 */
export async function writeServerRecord(
  paths: DaemonPaths,
  pid: number,
): Promise<PidRecord | undefined> {
  const record = await writePidRecord(paths.pidFile, pid);
  if (record !== undefined) {
    await writeFileAtomic(paths.referencePidFile, JSON.stringify(record) + "\n");
  }
  return record;
}

/** Writes an already verified record under both names. */
export async function writeServerRecordOf(paths: DaemonPaths, record: PidRecord): Promise<void> {
  const text = JSON.stringify(record) + "\n";
  await writeFileAtomic(paths.pidFile, text);
  await writeFileAtomic(paths.referencePidFile, text);
}

/** Removes both record files; missing files are fine. */
export async function removeServerRecords(paths: DaemonPaths): Promise<void> {
  await Promise.all(serverRecordFiles(paths).map((file) => removePidRecord(file)));
}
