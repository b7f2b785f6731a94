/**
 * "Is autostart on for this CODEX_HOME?", answered from files alone so
 * `status` stays cheap: the systemd user unit and its
 * `default.target.wants/` symlink (or the LaunchAgent plist on macOS), and
 * logind's linger flag file. Never spawns `systemctl`; never throws.
 *
 * Reads: `~/.config/systemd/user/<unit>` (or `$XDG_CONFIG_HOME/…`), its
 * `default.target.wants/` link, `/var/lib/systemd/linger/<user>`,
 * `~/Library/LaunchAgents/<label>.plist`.
 *
 * @module
 */
import { pathExists } from "../state/atomic_file.ts";
import { launchdLabel, unitFileName } from "./name.ts";
import { lingerEnabled } from "../process/linger.ts";

/** Which service manager starts codexd. */
export type AutostartManager = "systemd-user" | "launchd";

/** The `autostart` object of `status`, `enable-autostart` and `disable-autostart`. */
export interface AutostartInfo {
  /** The service manager. */
  manager: AutostartManager;
  /** The unit file (or plist) path. */
  unit: string;
  /** Whether it starts at boot (systemd: the `default.target.wants` link exists). */
  enabled: boolean;
  /** systemd: whether logind lingers for the user (the user manager runs without a login). */
  linger?: boolean;
}

/** Where autostart files live; injectable for tests. */
export interface AutostartLocations {
  /** The OS. @default {Deno.build.os} */
  os?: typeof Deno.build.os;
  /** The user's home. @default {$HOME} */
  home?: string;
  /** systemd's user unit directory. @default {$XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user} */
  unitDir?: string;
  /** logind's linger directory. @default {"/var/lib/systemd/linger"} */
  lingerDir?: string;
  /** The user name. @default {$USER, $LOGNAME, else from /etc/passwd} */
  user?: string;
}

/** The systemd user unit directory. */
export function userUnitDir(locations: AutostartLocations = {}): string {
  if (locations.unitDir) return locations.unitDir;
  const config = Deno.env.get("XDG_CONFIG_HOME");
  if (config?.startsWith("/")) return `${config}/systemd/user`;
  return `${homeDir(locations)}/.config/systemd/user`;
}

function homeDir(locations: AutostartLocations): string {
  const home = locations.home ?? Deno.env.get("HOME");
  if (!home) throw new Error("Cannot locate the user's unit directory: HOME is not set");
  return home;
}

/** The current user's name: `$USER`, `$LOGNAME`, else the passwd entry of the uid. */
export function currentUser(locations: AutostartLocations = {}): string {
  const named = locations.user ?? Deno.env.get("USER") ?? Deno.env.get("LOGNAME");
  if (named) return named;
  const uid = Deno.uid();
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields.length > 2 && Number(fields[2]) === uid) return fields[0];
    }
  } catch {
    // no passwd file: fall through
  }
  return String(uid);
}

/** The files of one CODEX_HOME's autostart. */
export interface AutostartFiles {
  /** The manager that would run it on this OS. */
  manager: AutostartManager;
  /** The unit file or plist. */
  unit: string;
  /** systemd: the `default.target.wants/` link `systemctl enable` makes. */
  wantsLink?: string;
}

/** Where one CODEX_HOME's autostart files are on `os`; `undefined` where autostart is unsupported. */
export function autostartFiles(
  codexHome: string,
  locations: AutostartLocations = {},
): AutostartFiles | undefined {
  const os = locations.os ?? Deno.build.os;
  if (os === "darwin") {
    return {
      manager: "launchd",
      unit: `${homeDir(locations)}/Library/LaunchAgents/${launchdLabel(codexHome)}.plist`,
    };
  }
  if (os !== "linux") return undefined;
  const dir = userUnitDir(locations);
  const name = unitFileName(codexHome);
  return {
    manager: "systemd-user",
    unit: `${dir}/${name}`,
    wantsLink: `${dir}/default.target.wants/${name}`,
  };
}

function present(path: string, followLinks = true): boolean {
  return pathExists(path, { follow: followLinks });
}

/**
 * The autostart state of `codexHome`, or `null` when no unit (plist) of
 * codexd exists for it. Never throws.
 */
export function readAutostart(
  codexHome: string,
  locations: AutostartLocations = {},
): AutostartInfo | null {
  try {
    const files = autostartFiles(codexHome, locations);
    if (files === undefined || !present(files.unit)) return null;
    if (files.manager === "launchd") return { manager: "launchd", unit: files.unit, enabled: true };
    return {
      manager: "systemd-user",
      unit: files.unit,
      enabled: files.wantsLink !== undefined && present(files.wantsLink, false),
      linger: lingerEnabled(currentUser(locations), locations.lingerDir),
    };
  } catch {
    return null;
  }
}
