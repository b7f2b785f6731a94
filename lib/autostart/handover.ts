/**
 * Handing a running app-server over from an autostart unit to codexd alone,
 * without stopping it. `disable-autostart` must stop the unit, and stopping
 * the unit runs its `ExecStop=` (`codexd stop --all`), which would end the
 * app-server and cut its turns. So before it stops the unit,
 * `disable-autostart` leaves a short-lived handover note naming the unit;
 * `stop --all` run *as that unit's ExecStop* (`$CODEXD_AUTOSTART_UNIT`
 * names it) while the note is fresh stops only the updater loop and leaves
 * the app-server serving (`KillMode=process` keeps it). A note that is
 * stale, names another unit, or is seen by a user's own `stop` (no
 * `$CODEXD_AUTOSTART_UNIT`) is ignored: a user's stop always stops.
 *
 * Files: `app-server-daemon/autostart-handover` (`{"unit", "untilMs"}`).
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import { type DaemonPaths, join } from "../state/paths.ts";

/** The note's file name in the state directory. */
export const HANDOVER_FILE = "autostart-handover";
/** How long a note is honoured: the bound of the `systemctl --user disable --now` it covers. */
export const HANDOVER_TTL_MS = 180_000;

function notePath(paths: DaemonPaths): string {
  return join(paths.stateDir, HANDOVER_FILE);
}

/** Leaves the note for `unit`'s ExecStop, valid for {@linkcode HANDOVER_TTL_MS}. */
export async function writeHandover(
  paths: DaemonPaths,
  unit: string,
  nowMs: number,
): Promise<void> {
  await writeFileAtomic(
    notePath(paths),
    JSON.stringify({ unit, untilMs: nowMs + HANDOVER_TTL_MS }) + "\n",
  );
}

/** Removes the note (the handover is over). */
export async function clearHandover(paths: DaemonPaths): Promise<void> {
  await removeIfPresent(notePath(paths));
}

/** Whether `note` (the file's text) hands `unit`'s app-server over at `nowMs`. Pure. */
export function handsOver(
  note: string | undefined,
  unit: string | undefined,
  nowMs: number,
): boolean {
  if (note === undefined || !unit) return false;
  try {
    const parsed = JSON.parse(note) as { unit?: unknown; untilMs?: unknown };
    return parsed.unit === unit && typeof parsed.untilMs === "number" && nowMs < parsed.untilMs;
  } catch {
    return false;
  }
}

/** Whether this `stop --all` is the ExecStop of a unit being disabled (see the module doc). */
export async function isHandover(paths: DaemonPaths, nowMs: number): Promise<boolean> {
  const unit = Deno.env.get("CODEXD_AUTOSTART_UNIT");
  if (!unit) return false;
  return handsOver(await readTextIfPresent(notePath(paths)).catch(() => undefined), unit, nowMs);
}
