/**
 * The updater's log, one line per event: `<ISO time> <event>`. The resident
 * loop's own lines (started, exiting) come from the shell; supervision
 * restarts, update passes and deferrals are appended from Deno through
 * {@linkcode appendUpdaterLog}, the one shared helper, so every event is
 * recorded the same way and nothing else (no shell noise) lands there.
 *
 * Touches `app-server-daemon/app-server-updater.log` (append only; never
 * through a symlink; never fails the caller).
 *
 * @module
 */
import type { DaemonPaths } from "./paths.ts";

/** Formats one log line: the UTC time to the second, the event, no newlines inside. */
export function formatUpdaterLogLine(event: string, now: Date): string {
  const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  // One event, one line: fold newlines and strip other control characters.
  // deno-lint-ignore no-control-regex
  const text = event.replace(/\s*\n\s*/g, " | ").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
  return `${time} ${text}\n`;
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
  try {
    const file = paths.updaterLogFile;
    try {
      // Append only to a regular file: a symlink could point anywhere.
      if (!Deno.lstatSync(file).isFile) return Promise.resolve();
    } catch {
      // missing: created below, 0600
    }
    Deno.writeTextFileSync(file, formatUpdaterLogLine(event, now), {
      append: true,
      create: true,
      mode: 0o600,
    });
  } catch {
    // best effort
  }
  return Promise.resolve();
}
