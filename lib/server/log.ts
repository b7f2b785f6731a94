/**
 * Which log belongs to the server that runs (or last ran) on a home, and
 * which tool started it: `logs` and `status` show the log of whichever tool
 * started the server. A server recorded in `daemon.pid` logs to
 * `daemon.stderr.log` (the reference's package layout), one in
 * `app-server.pid` to `app-server.stderr.log`; without a live record, the log
 * of the home's layout. The reference marks its records with
 * `executableIdentity`, which codexd never writes.
 *
 * @module
 */
import { readStateFileSync } from "../state/atomic_file.ts";
import { homeLayout } from "../state/home_layout.ts";
import type { DaemonPaths } from "../state/paths.ts";
import type { ServerState } from "./server_record.ts";

/** The server's log and who started it. */
export interface ServerLog {
  /** The stderr log of the server. */
  logPath: string;
  /** `reference` or `codexd` for a recorded live server, else `null`. */
  startedBy: "codexd" | "reference" | null;
}

/** Whether a record's JSON text is the reference's (it carries `executableIdentity`). */
export function writtenByReference(text: string | undefined): boolean {
  if (text === undefined) return false;
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && "executableIdentity" in value;
  } catch {
    return false;
  }
}

/** The log of the server `state` describes (see the module doc). */
export function serverLog(paths: DaemonPaths, state: ServerState): ServerLog {
  if (state.kind !== "running" && state.kind !== "unverifiable") {
    return { logPath: homeLayout(paths).logFile, startedBy: null };
  }
  let text: string | undefined;
  try {
    text = readStateFileSync(state.file);
  } catch {
    text = undefined;
  }
  return {
    logPath: state.file === paths.referencePidFile ? paths.referenceLogFile : paths.logFile,
    startedBy: writtenByReference(text) ? "reference" : "codexd",
  };
}
