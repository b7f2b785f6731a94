/**
 * The app-server's pid record under both names in use: `app-server.pid` (the
 * standalone layout) and `daemon.pid` (the reference's package layout, codex ≥
 * 0.169). Both hold the same JSON shape (`pid`, `processStartTime`,
 * `processIdentity`; the reference adds `executableIdentity`, which it does not
 * require: measured, it stops and restarts a server recorded without one).
 * codexd reads either, and writes the one name of the home's layout
 * (`state/home_layout.ts`): a `daemon.pid` on a home without the package makes the
 * reference refuse it.
 *
 * @module
 */
import { writeFileAtomic } from "../state/atomic_file.ts";
import { homeLayout } from "../state/home_layout.ts";
import type { DaemonPaths } from "../state/paths.ts";
import {
  type PidRecord,
  type PidState,
  readPidState,
  removePidRecord,
  writePidRecord,
} from "../process/pid_record.ts";

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
 * Records `pid` in `recordFile` (the home's layout's record by default).
 * `undefined` when it is already gone.
 */
export async function writeServerRecord(
  paths: DaemonPaths,
  pid: number,
  recordFile: string = homeLayout(paths).recordFile,
): Promise<PidRecord | undefined> {
  return await writePidRecord(recordFile, pid);
}

/** Writes an already verified record under the home's layout's name. */
export async function writeServerRecordOf(paths: DaemonPaths, record: PidRecord): Promise<void> {
  await writeFileAtomic(homeLayout(paths).recordFile, JSON.stringify(record) + "\n");
}

/** Removes both record files; missing files are fine. */
export async function removeServerRecords(paths: DaemonPaths): Promise<void> {
  await Promise.all(serverRecordFiles(paths).map((file) => removePidRecord(file)));
}
