/**
 * Autostart, the pure part: the name of one CODEX_HOME's service, the text
 * of its systemd user unit and of its macOS LaunchAgent plist, the
 * `launchctl` command lines, and the decisions the service commands take
 * (was the supervisor killed abnormally? should this start clear a user's
 * `down` marker?). No I/O here: everything is tested by tables.
 *
 * The design (README "Autostart"): systemd (or launchd) starts codexd's own
 * supervisor — the updater loop — and codexd supervises the app-server. The
 * unit is `Type=forking`: `ExecStart` runs `codexd autostart-start`,
 * which starts the app-server and the updater loop inside the unit and
 * writes the loop's pid to `PIDFile=`, so the loop is the unit's main
 * process and `systemctl --user status` follows it. `Restart=on-abnormal`
 * brings back a supervisor killed by a signal, never one that exited;
 * `KillMode=process` lets the app-server keep serving meanwhile.
 *
 * @module
 */
import { launchdLabel, unitFileName } from "./name.ts";

export {
  fnv1a32,
  LAUNCHD_LABEL_PREFIX,
  launchdLabel,
  SERVICE_PREFIX,
  serviceName,
  unitFileName,
} from "./name.ts";

/** The unit's `TimeoutStartSec=`: deno start-up, the lock wait and the app-server's readiness. */
export const UNIT_START_TIMEOUT_SECONDS = 120;
/** Added to `shutdownGraceSeconds` for `TimeoutStopSec=` (deno start-up, the updater group's grace). */
export const UNIT_STOP_SLACK_SECONDS = 30;
/** `RestartSec=` after the supervisor was killed by a signal. */
export const UNIT_RESTART_SECONDS = 5;
/** launchd's `ThrottleInterval`: the least seconds between two runs of the start command. */
export const LAUNCHD_THROTTLE_SECONDS = 30;
/** Name (in the state directory) of the plain pid file systemd reads (`PIDFile=`). */
export const SERVICE_PID_FILE = "autostart.pid";
/** Name (in the state directory) of the note "the supervisor died abnormally; keep `down`". */
export const ABNORMAL_MARKER = "autostart.abnormal";
/** Environment variable the unit sets so codexd knows it runs as that unit. */
export const AUTOSTART_UNIT_ENV = "CODEXD_AUTOSTART_UNIT";
/** Exit code of the updater loop when supervision gave up under systemd: the unit turns `failed`. */
export const GAVE_UP_EXIT_CODE = 3;

/** What a generated service runs, all absolute. */
export interface ServiceSpec {
  /** The CODEX_HOME it serves. */
  codexHome: string;
  /** The deno binary (`Deno.execPath()`): a boot-time PATH is bare. */
  denoPath: string;
  /** The pinned codexd module: a local `mod.ts` path, or a versioned URL already in deno's cache. */
  entry: string;
  /** The state directory (`CODEX_HOME/app-server-daemon`). */
  stateDir: string;
  /** `shutdownGraceSeconds` from settings, to size the stop timeout. */
  shutdownGraceSeconds: number;
  /** deno's cache when not the default (`$DENO_DIR`), so the unit finds the cached code offline. */
  denoDir?: string;
}

/** The codexd command line for `args`, as argv. */
export function codexdArgv(spec: ServiceSpec, args: string[]): string[] {
  return [spec.denoPath, "run", "-A", spec.entry, ...args, "--codex-home", spec.codexHome];
}

function rejectControlCharacters(value: string, what: string): string {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new Error(
      `Cannot write ${what} ${JSON.stringify(value)}: it contains a control character`,
    );
  }
  return value;
}

/**
 * Quotes one argument of an `Exec*=` line: `%` specifiers and `$` variable
 * expansion are escaped; anything beyond a plain word goes in double quotes.
 */
export function quoteExecArg(arg: string): string {
  rejectControlCharacters(arg, "unit argument");
  const escaped = arg.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** One `Exec*=` command line. */
export function execLine(argv: string[]): string {
  return argv.map(quoteExecArg).join(" ");
}

/** A value of `Environment=`: quoted, `%` escaped. */
function environmentAssignment(name: string, value: string): string {
  rejectControlCharacters(value, "environment value");
  const escaped = value.replaceAll("%", "%%").replaceAll("\\", "\\\\").replaceAll('"', '\\"');
  return `"${name}=${escaped}"`;
}

/** A path value (`PIDFile=`): `%` escaped; systemd takes the rest verbatim. */
function pathValue(path: string): string {
  return rejectControlCharacters(path, "unit path").replaceAll("%", "%%");
}

/**
 * A path at the end of a free-text line (`Description=`): `%` escaped, and
 * quoted when it ends in a backslash or a blank — systemd joins a line
 * ending in `\` with the next one (systemd.syntax), which would swallow the
 * unit's next setting, and strips trailing blanks.
 */
export function descriptionPath(path: string): string {
  const value = pathValue(path);
  return /[\\\s]$/.test(value) ? `"${value}"` : value;
}

/** The text of the systemd user unit for `spec`. */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const name = unitFileName(spec.codexHome);
  const stopTimeout = Math.round(spec.shutdownGraceSeconds) + UNIT_STOP_SLACK_SECONDS;
  return [
    `# Written by \`codexd enable-autostart\`; \`codexd disable-autostart\` removes it.`,
    `# codexd supervises the app-server; this unit starts codexd's supervisor at boot.`,
    `[Unit]`,
    `Description=Codex app-server (codexd) for ${descriptionPath(spec.codexHome)}`,
    ``,
    `[Service]`,
    // ExecStart returns once the app-server answers; its child, the updater
    // loop, stays behind and is the main process systemd follows.
    `Type=forking`,
    `PIDFile=${pathValue(`${spec.stateDir}/${SERVICE_PID_FILE}`)}`,
    `Environment=${environmentAssignment("CODEX_HOME", spec.codexHome)}`,
    `Environment=${environmentAssignment(AUTOSTART_UNIT_ENV, name)}`,
    `Environment=DENO_NO_UPDATE_CHECK=1`,
    ...(spec.denoDir ? [`Environment=${environmentAssignment("DENO_DIR", spec.denoDir)}`] : []),
    `ExecStart=${execLine(codexdArgv(spec, ["autostart-start"]))}`,
    `ExecReload=${execLine(codexdArgv(spec, ["restart"]))}`,
    `ExecStop=${execLine(codexdArgv(spec, ["stop", "--all"]))}`,
    // Runs after every stop, also when the supervisor was killed (systemd then
    // skips ExecStop): notes an abnormal end so the restart keeps a user's stop.
    `ExecStopPost=${execLine(codexdArgv(spec, ["autostart-stopped"]))}`,
    // A supervisor killed by a signal comes back; one that exited (a user's
    // `stop --all`, or supervision giving up: exit 3, the unit shows failed) does not.
    `Restart=on-abnormal`,
    // Stopping is ExecStop's job (codexd stop --all, graceful). When only the
    // supervisor died, the app-server it watched keeps serving through the restart.
    `KillMode=process`,
    `RestartSec=${UNIT_RESTART_SECONDS}`,
    `TimeoutStartSec=${UNIT_START_TIMEOUT_SECONDS}`,
    `TimeoutStopSec=${stopTimeout}`,
    ``,
    `[Install]`,
    `WantedBy=default.target`,
    ``,
  ].join("\n");
}

function xmlEscape(text: string): string {
  return rejectControlCharacters(text, "plist string")
    .replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * The LaunchAgent plist for `spec`. `RunAtLoad` starts codexd's supervisor
 * when the agent loads (at login, or at `launchctl bootstrap`);
 * `KeepAlive` re-runs the start command only when it failed
 * (`SuccessfulExit: false`): the command exits 0 once the app-server runs,
 * so a user's `codexd stop` is never undone by launchd.
 */
export function renderLaunchdPlist(spec: ServiceSpec, logFile: string): string {
  const label = launchdLabel(spec.codexHome);
  const argv = codexdArgv(spec, ["autostart-start"]);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<!-- Written by codexd enable-autostart; codexd disable-autostart removes it. -->`,
    `<plist version="1.0">`,
    `<dict>`,
    `  <key>Label</key>`,
    `  <string>${xmlEscape(label)}</string>`,
    `  <key>ProgramArguments</key>`,
    `  <array>`,
    ...argv.map((arg) => `    <string>${xmlEscape(arg)}</string>`),
    `  </array>`,
    `  <key>EnvironmentVariables</key>`,
    `  <dict>`,
    `    <key>CODEX_HOME</key>`,
    `    <string>${xmlEscape(spec.codexHome)}</string>`,
    `    <key>DENO_NO_UPDATE_CHECK</key>`,
    `    <string>1</string>`,
    ...(spec.denoDir
      ? [`    <key>DENO_DIR</key>`, `    <string>${xmlEscape(spec.denoDir)}</string>`]
      : []),
    `  </dict>`,
    `  <key>RunAtLoad</key>`,
    `  <true/>`,
    `  <key>KeepAlive</key>`,
    `  <dict>`,
    `    <key>SuccessfulExit</key>`,
    `    <false/>`,
    `  </dict>`,
    `  <key>ThrottleInterval</key>`,
    `  <integer>${LAUNCHD_THROTTLE_SECONDS}</integer>`,
    // The supervisor and the app-server run in their own sessions; never let
    // launchd reap them when the start command exits.
    `  <key>AbandonProcessGroup</key>`,
    `  <true/>`,
    `  <key>StandardErrorPath</key>`,
    `  <string>${xmlEscape(logFile)}</string>`,
    `</dict>`,
    `</plist>`,
    ``,
  ].join("\n");
}

/**
 * The launchd domain to load a LaunchAgent into: `gui/UID` when that user
 * has a GUI login session, else `user/UID` (a plain SSH session).
 */
export function launchdDomain(uid: number, guiSession: boolean): string {
  return `${guiSession ? "gui" : "user"}/${uid}`;
}

/** `launchctl` argv that load a LaunchAgent into `domain`. */
export function launchctlBootstrapArgs(domain: string, plistPath: string): string[] {
  return ["bootstrap", domain, plistPath];
}

/** `launchctl` argv that unload a LaunchAgent from `domain`. */
export function launchctlBootoutArgs(domain: string, label: string): string[] {
  return ["bootout", `${domain}/${label}`];
}

/** Signals systemd counts as a clean exit of a main process (systemd.service, `Restart=`). */
const CLEAN_SIGNALS = new Set(["HUP", "INT", "TERM", "PIPE"]);

/**
 * Whether the unit's main process (the supervisor) died abnormally, from the
 * `$EXIT_CODE`/`$EXIT_STATUS` systemd gives `ExecStopPost=`: a core dump or
 * an unclean signal — exactly when `Restart=on-abnormal` restarts it. Unset
 * or a normal exit (a `systemctl stop`, a user's `stop --all`) is not.
 */
export function exitedAbnormally(exitCode?: string, exitStatus?: string): boolean {
  if (exitCode === "dumped") return true;
  if (exitCode === "killed") return !CLEAN_SIGNALS.has((exitStatus ?? "").replace(/^SIG/, ""));
  return false;
}

/**
 * Whether a service start keeps the user's `down` marker (and so leaves the
 * app-server stopped): only when systemd is bringing back a supervisor that
 * was killed during this boot (`ExecStopPost` left the abnormal-exit note,
 * naming the boot). At boot and on an explicit `systemctl start` the marker
 * is cleared and the app-server starts: a user's `codexd stop` lasts while
 * the machine is up, and survives a killed supervisor.
 */
export function keepsDownMarker(noteBootId: string | undefined, bootId: string): boolean {
  return noteBootId !== undefined && noteBootId.trim() === bootId;
}
