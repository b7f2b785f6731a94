/**
 * Nothing pending without a process that applies it. When a restart is left
 * pending, this makes sure something will run `codexd apply-pending`:
 *
 * - a home with codexd's updater enabled (`bootstrap`): the updater loop,
 *   started again if it is not running (`appliedBy: "updater"`);
 * - any other home (a plain `start`, where supervision and auto-updates were
 *   never asked for): the *applier*, a tiny detached POSIX `sh` loop in its
 *   own process group that runs `codexd apply-pending` every
 *   `supervision.checkSeconds` while `pending-restart.json` exists and exits
 *   once it is gone (applied or dropped) (`appliedBy: "applier"`). It never
 *   supervises and never updates.
 *
 * Files: `app-server-daemon/pending-applier.pid` (its record; the loop exits
 * when the record stops naming it), `pending-applier.log` (its stderr:
 * only a Deno that cannot run writes there).
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import { describeError } from "../errors.ts";
import { spawnDetached } from "../process/launch.ts";
import { join } from "../state/paths.ts";
import { readPidState, removePidRecord, writePidRecord } from "../process/pid_record.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { codexdEntry, ensureUpdater, loopTimings } from "./loop.ts";
import type { PendingRestart } from "../idle/policy.ts";

/** `$0` of the applier loop. */
export const APPLIER_NAME = "codexd-pending-applier";
/** Its pid record in the state directory. */
export const APPLIER_PID_FILE = "pending-applier.pid";
/** Its stderr log in the state directory. */
export const APPLIER_LOG_FILE = "pending-applier.log";

/**
 * The loop. Positional parameters: state dir, deno path, codexd entry, home,
 * check seconds, an optional `--reload=…` flag for remote entries, and an
 * optional `--allow-foreign-home` (root acting on a user's home, as the
 * command that started it did).
 */
export const APPLIER_SCRIPT = String.raw`
state=$1 deno=$2 entry=$3 home=$4 check=$5 reload=$6 foreign=$7
me="$state/${APPLIER_PID_FILE}"
while :; do
  sleep "$check"
  line=; [ -f "$me" ] && [ ! -h "$me" ] && { read -r line < "$me"; } 2>/dev/null
  v=\${line#*\"pid\":}; v=\${v%%[!0-9]*}
  [ "$v" = "$$" ] || exit 0
  [ -e "$state/pending-restart.json" ] || { rm -f "$me"; exit 0; }
  "$deno" run -A \${reload:+"$reload"} "$entry" apply-pending --codex-home "$home" \${foreign:+"$foreign"} >/dev/null
done
`.replaceAll("\\$", "$");

/**
 * Makes sure a process will apply the pending restart; returns which.
 * Never throws: a failure to start one is returned as a warning (the
 * restart stays pending, and the next `update`, `apply-pending` or
 * `bootstrap` tries again).
 */
export async function ensurePendingApplier(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<{ appliedBy: NonNullable<PendingRestart["appliedBy"]>; warning?: string }> {
  if (settings.updater.enabled) {
    try {
      await ensureUpdater(ctx, settings);
      return { appliedBy: "updater" };
    } catch (error) {
      // e.g. the reference's updater holds the home: fall back to the applier.
      const applier = await ensureApplier(ctx, settings);
      return {
        ...applier,
        warning: `updater not running (${describeError(error).split("\n")[0]}); ${
          applier.warning ?? "the applier applies the pending restart"
        }`,
      };
    }
  }
  return await ensureApplier(ctx, settings);
}

async function ensureApplier(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<{ appliedBy: "applier"; warning?: string }> {
  const file = join(ctx.paths.stateDir, APPLIER_PID_FILE);
  try {
    const state = await readPidState(file);
    if (state.kind === "running" || state.kind === "unverifiable") return { appliedBy: "applier" };
    if (state.kind === "stale") await removePidRecord(file);
    const { entry, reload } = codexdEntry();
    const child = await spawnDetached({
      command: "/bin/sh",
      args: [
        "-c",
        APPLIER_SCRIPT,
        APPLIER_NAME,
        ctx.paths.stateDir,
        Deno.execPath(),
        entry,
        ctx.paths.codexHome,
        String(loopTimings(settings).check),
        reload,
        ctx.options.allowForeignHome ? "--allow-foreign-home" : "",
      ],
      env: { CODEX_HOME: ctx.paths.codexHome },
      logFile: join(ctx.paths.stateDir, APPLIER_LOG_FILE),
    });
    if (await writePidRecord(file, child.pid) === undefined) {
      await child.exited;
      return { appliedBy: "applier", warning: "the pending-restart applier exited at once" };
    }
    child.detach();
    return { appliedBy: "applier" };
  } catch (error) {
    return {
      appliedBy: "applier",
      warning: `cannot start the pending-restart applier: ${describeError(error).split("\n")[0]}`,
    };
  }
}
