/**
 * SSH reality check: where systemd-logind kills a user's processes at logout
 * (`KillUserProcesses=yes`) and lingering is off for that user, a daemon
 * started from an SSH session dies when the session ends. Detected from
 * logind's config files and the linger directory; never fails, only warns.
 *
 * Also the one reader of logind's linger flag ({@linkcode lingerEnabled}),
 * which `autostart/` shares.
 *
 * @module
 */
import { pathExists } from "../state/atomic_file.ts";

/** logind's per-user linger flags. */
export const LINGER_DIR = "/var/lib/systemd/linger";

/** Whether logind lingers for `user` (its flag file exists). */
export function lingerEnabled(user: string, lingerDir: string = LINGER_DIR): boolean {
  return pathExists(`${lingerDir}/${user}`);
}

/** Where the files live; injectable for tests. */
export interface LingerProbe {
  /** logind.conf and its drop-ins, in the order logind reads them. @default {the system paths} */
  configFiles?: string[];
  /** logind's linger directory. @default {LINGER_DIR} */
  lingerDir?: string;
  /** The user name. @default {$USER or $LOGNAME} */
  user?: string;
  /** Whether this runs inside a logind session. @default {XDG_SESSION_ID is set} */
  inSession?: boolean;
}

function logindConfigFiles(): string[] {
  const files = ["/etc/systemd/logind.conf"];
  for (const dir of ["/usr/lib/systemd/logind.conf.d", "/etc/systemd/logind.conf.d"]) {
    try {
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".conf"))
        .sort();
      files.push(...names.map((n) => `${dir}/${n}`));
    } catch {
      // no drop-ins
    }
  }
  return files;
}

/** The effective `KillUserProcesses` value from config texts (last one wins). */
export function killUserProcesses(texts: string[]): boolean {
  let value = false;
  for (const text of texts) {
    for (const line of text.split("\n")) {
      const match = /^\s*KillUserProcesses\s*=\s*(\S+)/.exec(line);
      if (match) value = /^(yes|true|1|on)$/i.test(match[1]);
    }
  }
  return value;
}

/**
 * Returns a warning with the fix when logout would kill the daemon, else
 * `undefined`. Never throws.
 */
export function lingerWarning(probe: LingerProbe = {}): string | undefined {
  try {
    const inSession = probe.inSession ?? Deno.env.get("XDG_SESSION_ID") !== undefined;
    if (!inSession || Deno.build.os !== "linux") return undefined;
    const texts = (probe.configFiles ?? logindConfigFiles()).map((file) => {
      try {
        return Deno.readTextFileSync(file);
      } catch {
        return "";
      }
    });
    if (!killUserProcesses(texts)) return undefined;
    const user = probe.user ?? Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "";
    if (lingerEnabled(user, probe.lingerDir)) return undefined;
    return `systemd-logind kills ${user || "your"} processes at logout (KillUserProcesses=yes) ` +
      `and lingering is off: the app-server will stop when this SSH session ends. ` +
      `Fix: loginctl enable-linger ${user}`.trimEnd();
  } catch {
    return undefined;
  }
}
