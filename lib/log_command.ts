/**
 * `logs`: the tail of the app-server's or the updater's stderr log.
 *
 * @module
 */
import { createContext, type DaemonOptions } from "./context.ts";
import { tailFile } from "./logs.ts";

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
  const logPath = options.updater ? ctx.paths.updaterLogFile : ctx.paths.logFile;
  return {
    status: "ok",
    logPath,
    lines: await tailFile(logPath, options.lines ?? DEFAULT_LOG_LINES),
  };
}
