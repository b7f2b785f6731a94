/**
 * The resident updater: one detached POSIX `sh` loop per CODEX_HOME, in its
 * own process group, recorded in `app-server-updater.pid`.
 *
 * Why `sh` and not a resident Deno process: between passes it only sleeps,
 * and a sleeping `sh` holds ~1 MiB where Deno holds ~40 MiB. Every few
 * seconds it checks, with shell builtins only, that the recorded app-server
 * is still the same live process (`/proc/PID/stat` state and start ticks);
 * only when it is not does it start Deno (`codexd supervise`). Every
 * `updateIntervalMinutes` it runs `codexd update --updater-pass` — a fresh
 * Deno process on the current codexd code, which is how the updater refreshes
 * itself. While `pending-restart.json` exists (an update waits for running
 * turns to end) it runs `codexd apply-pending` at each check. When
 * `launched-binary` exists it compares, with one `stat(1)` per check, the
 * binary the app-server was launched from with what was recorded at launch,
 * and runs `codexd follow-binary` only when they differ (an out-of-band
 * upgrade; see `updater/follow_binary.ts`). The loop exits
 * when its pid record stops naming it, and — as the main process of an
 * autostart unit (`$CODEXD_AUTOSTART_UNIT`) — with code 3 once supervision
 * gave up, so systemd shows the unit failed.
 *
 * Files: `app-server-updater.pid`, `app-server-updater.log`, reads
 * `app-server.pid`, `down`, `supervise.holdoff`, `pending-restart.json` and
 * `launched-binary` in the state directory.
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";
import { spawnDetached } from "../process/launch.ts";
import type { DaemonContext } from "../server/context.ts";
import {
  type PidRecord,
  readPidState,
  removePidRecord,
  writePidRecord,
} from "../process/pid_record.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { assertSignallable, signalWithin, terminateRecorded } from "../process/terminate.ts";
import { statFormat } from "../state/binary_watch.ts";

/** `$0` of the loop: how its process is told from the reference's updater. */
export const LOOP_NAME = "codexd-update-loop";

/** How the loop learns it runs for root on a user's home (the flag it passes on). */
export const LOOP_FOREIGN_FLAG_ENV = "CODEXD_LOOP_FOREIGN_FLAG";

/** Grace for the updater's process group on `stop --all`. */
export const UPDATER_STOP_GRACE_MS = 5_000;

/**
 * The loop. Positional parameters: state dir, deno path, codexd entry, home,
 * check seconds, update interval seconds, first-pass delay seconds, an
 * optional `--reload=…` flag for remote entries (may be empty),
 * `stat(1)`'s flag and format printing a `launched-binary` signature, and the
 * remote-control watchdog's interval (its pass runs only while settings enable
 * remote control). `$CODEXD_LOOP_FOREIGN_FLAG` (taken, then unset so no child
 * inherits it) is `--allow-foreign-home` when root started the loop on a
 * user's home: every codexd it runs carries it, else every check would fail
 * `HOME_UNSAFE`. Only builtins run in the healthy path, except `sleep`,
 * `date` and — while a server's binary is recorded — one `stat`.
 */
export const UPDATER_LOOP_SCRIPT = String.raw`
state=$1 deno=$2 entry=$3 home=$4 check=$5 interval=$6 first=$7 reload=$8 statflag=$9 statfmt=\${10}
rccheck=\${11:-60}
foreign=\${CODEXD_LOOP_FOREIGN_FLAG:-}; unset CODEXD_LOOP_FOREIGN_FLAG
me="$state/app-server-updater.pid"
field() { v=\${line#*\"$1\":}; v=\${v%%[!0-9]*}; }
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&2; }
# Read state files only when they are regular files: a FIFO would block the loop forever.
plain() { [ -f "$1" ] && [ ! -h "$1" ]; }
# $1: a server record (app-server.pid or the reference's daemon.pid).
app_alive() {
  # The shell reports a failed input redirection of a builtin before that
  # command's own 2>/dev/null applies: silence it around a group instead.
  line=; plain "$1" && { read -r line < "$1"; } 2>/dev/null || return 1
  field pid; p=$v; field startTicks; t=$v
  [ -n "$p" ] && [ -n "$t" ] || return 1
  if [ -d /proc/self ]; then
    stat=; { read -r stat < "/proc/$p/stat"; } 2>/dev/null || return 1
    set -- \${stat##*) }
    [ "$1" != Z ] && [ "$1" != X ] && [ "\${20}" = "$t" ]
  else
    kill -0 "$p" 2>/dev/null
  fi
}
# Without a working stat(1), out-of-band upgrades are left to the update passes.
if [ -n "$statflag" ] && ! stat -L "$statflag" "$statfmt" / >/dev/null 2>&1; then
  log "updater $$: stat -L $statflag does not work here; binaries replaced out of band are noticed by update passes only"
  statflag=
fi
# Whether settings.json says "remoteControlEnabled": true (builtins only; any JSON layout).
rc_on() {
  plain "$state/settings.json" || return 1
  found=1
  { while IFS= read -r l || [ -n "$l" ]; do
      case $l in *'"remoteControlEnabled"'*)
        v=\${l#*\"remoteControlEnabled\"}; v=\${v#*:}; v=\${v#"\${v%%[! ]*}"}
        case $v in true*) found=0;; esac;;
      esac
    done < "$state/settings.json"; } 2>/dev/null
  return $found
}
next=$(( $(date +%s) + first ))
rcnext=$(( $(date +%s) + rccheck ))
while :; do
  sleep "$check"
  line=; plain "$me" && { read -r line < "$me"; } 2>/dev/null; field pid
  [ "$v" = "$$" ] || { log "updater $$: record names another process, exiting"; exit 0; }
  now=$(date +%s)
  if [ -n "\${CODEXD_AUTOSTART_UNIT:-}" ] && [ -e "$state/down" ]; then
    why=; plain "$state/down" && { read -r why < "$state/down"; } 2>/dev/null
    case $why in "supervision gave up"*)
      echo "updater $$: $why; exiting so $CODEXD_AUTOSTART_UNIT shows failed" >&2; exit 3;;
    esac
  fi
  if [ ! -e "$state/down" ] && ! app_alive "$state/app-server.pid" && ! app_alive "$state/daemon.pid"; then
    hold=0; plain "$state/supervise.holdoff" && { read -r hold < "$state/supervise.holdoff"; } 2>/dev/null
    if [ "$now" -ge "\${hold:-0}" ]; then
      # codexd appends the pass's one line itself; stderr stays here only for a Deno that cannot run.
      "$deno" run -A "$entry" supervise --codex-home "$home" \${foreign:+"$foreign"} >/dev/null
    fi
  fi
  # The binary the server was launched from, replaced out of band? One stat; Deno only on a change.
  if [ -n "$statflag" ] && plain "$state/launched-binary"; then
    sig= bin=; { read -r sig _ _ bin < "$state/launched-binary"; } 2>/dev/null
    if [ -n "$bin" ]; then
      now_sig=$(stat -L "$statflag" "$statfmt" "$bin" 2>/dev/null) || now_sig=missing
      if [ "$now_sig" != "$sig" ]; then
        "$deno" run -A "$entry" follow-binary --codex-home "$home" \${foreign:+"$foreign"} >/dev/null
      fi
    fi
  fi
  if [ -e "$state/pending-restart.json" ]; then
    "$deno" run -A "$entry" apply-pending --codex-home "$home" \${foreign:+"$foreign"} >/dev/null
  fi
  if [ "$now" -ge "$rcnext" ]; then
    rcnext=$(( now + rccheck ))
    if [ ! -e "$state/down" ] && rc_on; then
      "$deno" run -A "$entry" watch-remote-control --codex-home "$home" \${foreign:+"$foreign"} >/dev/null
    fi
  fi
  if [ "$now" -ge "$next" ]; then
    "$deno" run -A \${reload:+"$reload"} "$entry" update --updater-pass --codex-home "$home" \
      \${foreign:+"$foreign"} >/dev/null
    next=$(( $(date +%s) + interval ))
  fi
done
`.replaceAll("\\$", "$");

/**
 * How the updater invokes codexd: the entry module and a reload flag for
 * remote code. Inside the one-file bundle (`dist/codexd.js`) this code's own
 * URL is the running entry, so the bundle runs itself again; otherwise
 * `mod.ts` beside `lib/`.
 */
export function codexdEntry(
  moduleUrl: string = import.meta.url,
  mainModule: string = Deno.mainModule,
): { entry: string; reload: string } {
  const bundled = moduleUrl === mainModule;
  const mod = bundled ? new URL(moduleUrl) : new URL("../../mod.ts", moduleUrl);
  if (mod.protocol === "file:") return { entry: decodeURIComponent(mod.pathname), reload: "" };
  // A published copy is versioned in its URL; run the unversioned package so
  // each pass picks up the newest codexd.
  if (mod.href.startsWith("https://jsr.io/@codexd/daemon/")) {
    const entry = bundled ? "jsr:@codexd/daemon/run" : "jsr:@codexd/daemon";
    return { entry, reload: "--reload=jsr:@codexd/daemon" };
  }
  return { entry: mod.href, reload: `--reload=${mod.href}` };
}

/** The loop's timings in whole seconds, from settings. */
export function loopTimings(
  settings: DaemonSettings,
): { check: number; interval: number; first: number; rcCheck: number } {
  const { updater } = settings;
  return {
    check: Math.max(1, Math.round(updater.supervision.checkSeconds)),
    interval: Math.max(1, Math.round(updater.updateIntervalMinutes * 60)),
    first: Math.max(0, Math.round(updater.firstPassDelaySeconds)),
    rcCheck: Math.max(1, Math.round(updater.remoteControlWatch.checkSeconds)),
  };
}

/**
 * Makes sure exactly one updater runs for this CODEX_HOME: keeps a live one,
 * replaces a dead one. Call under the daemon lock.
 */
export async function ensureUpdater(
  ctx: DaemonContext,
  settings: DaemonSettings,
): Promise<PidRecord> {
  await assertNoReferenceUpdater(ctx);
  const state = await readPidState(ctx.paths.updaterPidFile);
  if (state.kind === "running" || state.kind === "unverifiable") return state.record;
  if (state.kind === "stale") await removePidRecord(ctx.paths.updaterPidFile);
  const { entry, reload } = codexdEntry();
  const { check, interval, first, rcCheck } = loopTimings(settings);
  const child = await spawnDetached({
    command: "/bin/sh",
    args: [
      "-c",
      UPDATER_LOOP_SCRIPT,
      LOOP_NAME,
      ctx.paths.stateDir,
      Deno.execPath(),
      entry,
      ctx.paths.codexHome,
      String(check),
      String(interval),
      String(first),
      reload,
      ...statFormat(),
      String(rcCheck),
    ],
    env: {
      CODEX_HOME: ctx.paths.codexHome,
      ...(ctx.options.allowForeignHome ? { [LOOP_FOREIGN_FLAG_ENV]: "--allow-foreign-home" } : {}),
    },
    logFile: ctx.paths.updaterLogFile,
  });
  const record = await writePidRecord(ctx.paths.updaterPidFile, child.pid);
  if (record === undefined) {
    await child.exited;
    throw new CodexdError(
      "SPAWN_FAILED",
      `Cannot start the updater: pid ${child.pid} exited at once`,
      "codexd logs --updater",
    );
  }
  child.detach();
  // Logged from here, not by the loop: a date command there would fork at every start.
  await appendUpdaterLog(
    ctx.paths,
    `updater ${record.pid} started: check ${check}s, update every ${interval}s`,
  );
  return record;
}

/**
 * Whether a live process recorded in `app-server-updater.pid` is the
 * reference's updater (an older release used that name too): positively a
 * codex `app-server` process, not codexd's loop. Anything unclear counts as
 * codexd's own — `/proc/PID/cmdline` reads empty while the process execs (the
 * launcher `exec`s the loop right after the record is written), and a false
 * conflict would refuse a user's bootstrap.
 */
export function isReferenceUpdaterArgv(argv: string[]): boolean {
  return argv.includes("app-server") && !argv.includes(LOOP_NAME) &&
    !argv.includes("codexd-launch");
}

function isForeignLoop(pid: number): boolean {
  try {
    return isReferenceUpdaterArgv(Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0"));
  } catch {
    return false;
  }
}

/**
 * The reference's updater, when one runs for this home: recorded in
 * `daemon-updater.pid` (codex 0.169), or in `app-server-updater.pid` by an
 * older reference (a process that is not codexd's loop).
 */
export async function referenceUpdater(ctx: DaemonContext): Promise<PidRecord | undefined> {
  const modern = await readPidState(ctx.paths.referenceUpdaterPidFile);
  if (modern.kind === "running") return modern.record;
  const legacy = await readPidState(ctx.paths.updaterPidFile);
  if (legacy.kind === "running" && isForeignLoop(legacy.record.pid)) return legacy.record;
  return undefined;
}

/**
 * Two updaters with different sources on one home would fight over
 * `current` and restarts: refuse, and say how to hand over.
 *
 * @throws {CodexdError} `UPDATER_CONFLICT` while the reference's updater runs.
 */
export async function assertNoReferenceUpdater(ctx: DaemonContext): Promise<void> {
  const foreign = await referenceUpdater(ctx);
  if (foreign === undefined) return;
  throw new CodexdError(
    "UPDATER_CONFLICT",
    `Cannot start codexd's updater: the reference's updater (pid ${foreign.pid}) already updates ${ctx.paths.codexHome}`,
    "codexd stop --all (stops both updaters), then: codexd bootstrap",
  );
}

async function stopRecordedGroup(
  ctx: DaemonContext,
  file: string,
  graceMs: number,
): Promise<boolean> {
  const state = await readPidState(file);
  if (state.kind !== "running") {
    if (state.kind === "stale") await removePidRecord(file);
    return false;
  }
  const scope = { allowedUids: ctx.signallableUids, launchedFor: ctx.launchedFor };
  // Judged before the leader goes: how far the last SIGKILL below may reach.
  const reach = assertSignallable(state.record.pid, scope);
  await terminateRecorded(state.record, { graceMs, clock: ctx.clock, ...scope });
  // The leader is gone; members that ignored SIGTERM (an installer, say)
  // still form the group. While any member lives the kernel cannot reuse the
  // group id, so this signal reaches only them (only the signallable ones
  // when root acts for another user).
  if (reach === "group") {
    try {
      Deno.kill(-state.record.pid, "SIGKILL");
    } catch {
      // The group is empty: nothing left to kill.
    }
  } else {
    signalWithin(state.record.pid, "SIGKILL", reach, scope);
  }
  await removePidRecord(file);
  return true;
}

/**
 * Stops every updater of this home — codexd's and the reference's — each
 * with its whole process group (installer children included). Returns
 * whether any was running.
 */
export async function stopUpdater(
  ctx: DaemonContext,
  graceMs = UPDATER_STOP_GRACE_MS,
): Promise<boolean> {
  const ours = await stopRecordedGroup(ctx, ctx.paths.updaterPidFile, graceMs);
  const reference = await stopRecordedGroup(ctx, ctx.paths.referenceUpdaterPidFile, graceMs);
  return ours || reference;
}
