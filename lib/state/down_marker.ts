/**
 * The `down` marker: the user stopped the app-server on purpose, so
 * supervision leaves it alone until a user `start`/`restart` clears it (as
 * daemontools' `down` file). `supervise.holdoff` holds the epoch second
 * before which supervision waits (its backoff); clearing `down` clears it too.
 *
 * Files: `app-server-daemon/down`, `app-server-daemon/supervise.holdoff`.
 *
 * @module
 */
import { pathExists, removeIfPresent, writeFileAtomic } from "./atomic_file.ts";
import type { DaemonPaths } from "./paths.ts";

/** Name of the marker that says "the user stopped it: do not supervise". */
export const DOWN_FILE = "down";
/** Name of the file holding the epoch second before which supervision waits. */
export const HOLDOFF_FILE = "supervise.holdoff";

/** Marks the app-server as deliberately stopped (no supervision) or clears it. */
export async function setDown(
  paths: DaemonPaths,
  down: boolean,
  reason = "stopped",
): Promise<void> {
  const file = `${paths.stateDir}/${DOWN_FILE}`;
  if (down) {
    // Atomic (temp + rename): never writes through a planted symlink, never half a file.
    await writeFileAtomic(file, `${reason}\n`);
  } else {
    await removeIfPresent(file);
    await removeIfPresent(`${paths.stateDir}/${HOLDOFF_FILE}`);
  }
}

/** Whether the `down` marker is present. */
export function isDown(paths: DaemonPaths): boolean {
  return pathExists(`${paths.stateDir}/${DOWN_FILE}`, { follow: false });
}
