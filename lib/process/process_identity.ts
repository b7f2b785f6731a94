/**
 * Who a pid is right now: alive or not, and an identity that survives pid
 * reuse. On Linux everything comes from `/proc` (`/proc/PID/stat` field 22 and
 * `/proc/sys/kernel/random/boot_id`), never from `ps`, whose output depends on
 * locale, timezone and busybox. On macOS it falls back to `ps -o lstart=`
 * under `LC_ALL=C TZ=UTC`, compared as a parsed time, never as text.
 *
 * A zombie (state `Z`/`X`) counts as dead: on hosts whose PID 1 does not reap
 * orphans a killed daemon stays a zombie forever and `kill(pid, 0)` still
 * succeeds on it.
 *
 * @module
 */

/** What survives pid reuse: the boot and the start time of the process. */
export interface ProcessIdentity {
  /** `/proc/sys/kernel/random/boot_id` (Linux) or the boot time (macOS). */
  bootId: string;
  /** Start time in clock ticks since boot (Linux) or epoch seconds (macOS). */
  startTicks: number;
}

/** The observed state of a pid. */
export type ProcessProbe =
  | { kind: "dead" }
  | { kind: "alive"; identity: ProcessIdentity; startTime: Date }
  | { kind: "unknown"; reason: string };

/** Clock ticks per second used by `/proc/PID/stat`; 100 on every Linux ABI codexd targets. */
const CLOCK_TICKS_PER_SECOND = 100;

let cachedBootId: string | undefined;
let cachedBootTimeMs: number | undefined;

/** Reads the kernel boot id (Linux), cached for the life of the process. */
export function readBootId(): string {
  cachedBootId ??= Deno.readTextFileSync("/proc/sys/kernel/random/boot_id")
    .trim();
  return cachedBootId;
}

function bootTimeMs(): number {
  if (cachedBootTimeMs === undefined) {
    const stat = Deno.readTextFileSync("/proc/stat");
    const match = /^btime (\d+)$/m.exec(stat);
    cachedBootTimeMs = match ? Number(match[1]) * 1000 : 0;
  }
  return cachedBootTimeMs;
}

/**
 * Parses the text of `/proc/PID/stat` into its state letter and start ticks.
 * The command name (field 2) may hold spaces and parentheses, so fields are
 * counted from the last `)`.
 */
export function parseProcStat(
  text: string,
): { state: string; startTicks: number } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTicks = Number(fields[19]);
  if (!state || !Number.isSafeInteger(startTicks)) return undefined;
  return { state, startTicks };
}

/** Whether a `/proc` state letter means the process has exited. */
export function isExitedState(state: string): boolean {
  return state === "Z" || state === "X" || state === "x";
}

function probeLinux(pid: number): ProcessProbe {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "dead" };
    return { kind: "unknown", reason: `cannot read /proc/${pid}/stat: ${error}` };
  }
  const parsed = parseProcStat(text);
  if (parsed === undefined) {
    return { kind: "unknown", reason: `cannot parse /proc/${pid}/stat` };
  }
  if (isExitedState(parsed.state)) return { kind: "dead" };
  try {
    const startMs = bootTimeMs() +
      parsed.startTicks * 1000 / CLOCK_TICKS_PER_SECOND;
    return {
      kind: "alive",
      identity: { bootId: readBootId(), startTicks: parsed.startTicks },
      startTime: new Date(startMs),
    };
  } catch (error) {
    return { kind: "unknown", reason: `cannot read boot identity: ${error}` };
  }
}

/** Parses `ps -o lstart=` output taken under `LC_ALL=C TZ=UTC`. */
export function parseLstart(text: string): Date | undefined {
  const match = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/
    .exec(text.trim());
  if (!match) return undefined;
  const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const month = months.indexOf(match[1]) / 3;
  if (month < 0 || !Number.isInteger(month)) return undefined;
  const [day, hour, minute, second, year] = match.slice(2).map(Number);
  return new Date(Date.UTC(year, month, day, hour, minute, second));
}

function probeDarwin(pid: number): ProcessProbe {
  const out = new Deno.Command("/bin/ps", {
    args: ["-o", "stat=,lstart=", "-p", String(pid)],
    env: { LC_ALL: "C", TZ: "UTC" },
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const line = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || line === "") return { kind: "dead" };
  const [state, ...rest] = line.split(/\s+/);
  if (state.startsWith("Z")) return { kind: "dead" };
  const started = parseLstart(rest.join(" "));
  if (started === undefined) {
    return { kind: "unknown", reason: `cannot parse ps lstart "${line}"` };
  }
  return {
    kind: "alive",
    identity: { bootId: darwinBootId(), startTicks: started.getTime() / 1000 },
    startTime: started,
  };
}

function darwinBootId(): string {
  const out = new Deno.Command("/usr/sbin/sysctl", {
    args: ["-n", "kern.boottime"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const match = /sec = (\d+)/.exec(new TextDecoder().decode(out.stdout));
  return match ? `boottime-${match[1]}` : "unknown";
}

/** Observes `pid`: dead (gone or zombie), alive with its identity, or unknown. */
export function probeProcess(pid: number): ProcessProbe {
  if (!Number.isSafeInteger(pid) || pid <= 1) {
    return { kind: "unknown", reason: `invalid pid ${pid}` };
  }
  return Deno.build.os === "darwin" ? probeDarwin(pid) : probeLinux(pid);
}

/** Parses the real uid from the text of `/proc/PID/status` (`Uid:\treal\teffective\t…`). */
export function parseStatusUid(text: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * The real uid of `pid` (Linux, from `/proc/PID/status`); `undefined` when it
 * cannot be read (gone, or not Linux — there a signal's EPERM still tells).
 */
export function processUid(pid: number): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return parseStatusUid(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/** Whether two identities name the same process. */
export function sameIdentity(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.bootId === b.bootId && a.startTicks === b.startTicks;
}

/**
 * argv markers of the processes codexd launches for a CODEX_HOME: the
 * app-server (`… app-server …`), the launcher shell before it execs
 * (`codexd-launch`) and the updater loop (`codexd-update-loop`).
 */
const LAUNCHED_MARKERS = ["app-server", "codexd-launch", "codexd-update-loop"];

/**
 * Whether a process's argv and NUL-separated environment make it one codexd
 * launched for `codexHome` (pure; tested by a table): a launched marker in
 * argv and exactly `CODEX_HOME=<codexHome>` in the environment.
 */
export function isLaunchedFor(argv: string[], environ: string, codexHome: string): boolean {
  return argv.some((arg) => LAUNCHED_MARKERS.includes(arg)) &&
    `\0${environ}`.includes(`\0CODEX_HOME=${codexHome}\0`);
}

/**
 * Whether `pid` is a process codexd launched for `codexHome` (Linux, from
 * `/proc/PID/{cmdline,environ}`); `undefined` when they cannot be read
 * (gone, another user's environment, or not Linux).
 */
export function processLaunchedFor(pid: number, codexHome: string): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return isLaunchedFor(argv, environ, codexHome);
  } catch {
    return undefined;
  }
}

/**
 * The live members of process group `pgid` (Linux, a scan of `/proc`); an
 * empty list elsewhere or when `/proc` cannot be read.
 */
export function processGroupMembers(pgid: number): number[] {
  if (Deno.build.os !== "linux") return [];
  const members: number[] = [];
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isSafeInteger(pid) || pid <= 1) continue;
      try {
        const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
        const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
        // fields[0] is field 3 (state); field 5 (pgrp) is fields[2].
        if (Number(fields[2]) === pgid && !isExitedState(fields[0])) members.push(pid);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return members;
}
