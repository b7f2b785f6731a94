/**
 * The updater's log, one line per event: `<ISO time> <event>`. The resident
 * loop's own lines (started, exiting) come from the shell; supervision
 * restarts, update passes and deferrals are appended from Deno through
 * {@linkcode appendUpdaterLog}, the one shared helper, so every event is
 * recorded the same way and nothing else (no shell noise) lands there.
 *
 * Touches `app-server-daemon/app-server-updater.log` (append only, through
 * `appendLineSafe`: never through a symlink, control characters stripped,
 * size capped; never fails the caller). `status` reads its tail back
 * ({@linkcode readSuperviseHealth}) to tell a loop whose checks all fail.
 *
 * @module
 */
import { appendLineSafe, sanitizeLineText } from "./atomic_file.ts";
import { tailFile } from "./logs.ts";
import type { DaemonPaths } from "./paths.ts";

/** Formats one log line: the UTC time to the second, the event, no newlines inside. */
export function formatUpdaterLogLine(event: string, now: Date): string {
  const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  // One event, one line: newlines folded, other control characters stripped.
  return `${time} ${sanitizeLineText(event)}\n`;
}

/**
 * Appends one event to the updater log. Never throws: a log that cannot be
 * written (full disk, planted symlink) must not fail a pass.
 */
export function appendUpdaterLog(
  paths: Pick<DaemonPaths, "updaterLogFile">,
  event: string,
  now: Date = new Date(),
): Promise<void> {
  appendLineSafe(paths.updaterLogFile, formatUpdaterLogLine(event, now).slice(0, -1));
  return Promise.resolve();
}

/** What the updater log says about the loop's latest supervision checks. */
export interface SuperviseHealth {
  /** Consecutive `supervise: error:` lines at the end of the log (since the loop started). */
  superviseErrors: number;
  /** The latest of them: `<time> <code>: <message>`. */
  lastSuperviseError?: string;
}

/** How many lines of the log's tail {@linkcode readSuperviseHealth} reads. */
export const HEALTH_TAIL_LINES = 50;

/**
 * Counts the supervision checks that failed in a row at the end of the log
 * (lines oldest first; pure, tested by a table). A successful check or the
 * loop's (re)start ends the run; lines of other events are skipped.
 */
export function superviseHealth(lines: string[]): SuperviseHealth {
  let superviseErrors = 0;
  let lastSuperviseError: string | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^(\S+) (supervise: (error: )?|updater \d+ started)(.*)$/.exec(lines[i]);
    if (match === null) continue;
    if (match[3] === undefined) break;
    superviseErrors++;
    lastSuperviseError ??= `${match[1]} ${match[4]}`;
  }
  return lastSuperviseError === undefined
    ? { superviseErrors }
    : { superviseErrors, lastSuperviseError };
}

/** Reads {@linkcode superviseHealth} from the tail of the updater log. */
export async function readSuperviseHealth(
  paths: Pick<DaemonPaths, "updaterLogFile">,
): Promise<SuperviseHealth> {
  return superviseHealth(await tailFile(paths.updaterLogFile, HEALTH_TAIL_LINES));
}
