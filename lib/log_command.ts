/**
 * `logs`: the tail of the app-server's or the updater's stderr log — the log
 * of whichever tool started the running server (codexd's
 * `app-server.stderr.log` or the reference's `daemon.stderr.log`), or of
 * whichever updater runs; the result says which.
 *
 * @module
 */
import { createContext, type DaemonOptions } from "./server/context.ts";
import { tailFile } from "./state/logs.ts";
import { readPidState } from "./process/pid_record.ts";
import { serverLog } from "./server/log.ts";
import { readServerState } from "./server/server_record.ts";

/** Default number of lines `logs` prints. */
export const DEFAULT_LOG_LINES = 50;

/** Options for {@linkcode readLogs}. */
export interface LogsOptions extends DaemonOptions {
  /** How many lines to return. @default {DEFAULT_LOG_LINES} */
  lines?: number;
  /** Read the updater's log instead of the app-server's. @default {false} */
  updater?: boolean;
}

/** What `logs` prints. */
export interface LogsResult {
  /** Always `ok`. */
  status: "ok";
  /** The log file read. */
  logPath: string;
  /**
   * Which tool started the process whose log this is (`codexd` or `reference`),
   * `null` when none runs (then the log of the home's layout).
   */
  startedBy: "codexd" | "reference" | null;
  /** Its last lines, oldest first. */
  lines: string[];
}

/**
 * Reads the last lines of a log.
 *
 * @example
 * ```ts ignore
 * import { readLogs } from "./log_command.ts";
 * const { lines } = await readLogs({ lines: 20, updater: true });
 * ```
 */
export async function readLogs(options: LogsOptions = {}): Promise<LogsResult> {
  const ctx = createContext(options);
  const { paths } = ctx;
  let source: Omit<LogsResult, "status" | "lines">;
  if (options.updater) {
    const ours = await readPidState(paths.updaterPidFile);
    const reference = ours.kind === "running"
      ? undefined
      : await readPidState(paths.referenceUpdaterPidFile);
    source = reference?.kind === "running"
      ? { logPath: paths.referenceUpdaterLogFile, startedBy: "reference" }
      : { logPath: paths.updaterLogFile, startedBy: ours.kind === "running" ? "codexd" : null };
  } else {
    source = serverLog(paths, await readServerState(paths));
  }
  return {
    status: "ok",
    ...source,
    lines: await tailFile(source.logPath, options.lines ?? DEFAULT_LOG_LINES),
  };
}
