/**
 * `settings.json`: the persisted launch and updater settings. Missing means
 * defaults; malformed is `SETTINGS_INVALID` (except where a caller such as
 * `stop` asks for the lenient read). Keys codexd does not know are kept on
 * every write, and every write is atomic. The file is shared with the
 * reference: `settings_layout.ts` says which keys live where on disk; the
 * typed view here is the same whatever the layout.
 *
 * @module
 */
import { readTextIfPresent, writeFileAtomic } from "./atomic_file.ts";
import { CodexdError } from "../errors.ts";
import { type DaemonPaths, ensureStateDir } from "./paths.ts";
import {
  CODEXD_KEY,
  needsMigration,
  REFERENCE_UPDATER_KEYS,
  settingsOnDisk,
  settingsView,
} from "./settings_layout.ts";

type SettingsJson = Record<string, unknown>; // a settings.json as parsed
/** Default grace between SIGTERM and SIGKILL, in seconds. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 60;
/** Upper bound of `shutdownGraceSeconds`. */
export const MAX_SHUTDOWN_GRACE_SECONDS = 300;
/** `shutdownGraceSeconds` value meaning: wait for the drain without limit, never SIGKILL. */
export const NO_GRACE_LIMIT = -1;
/** Default minutes a pending restart waits for idle before interrupting turns (24 h). */
export const DEFAULT_RESTART_DEADLINE_MINUTES = 24 * 60;
/** What `updater.pinnedVersion` accepts: an exact release, as `normalizeVersion()` returns it. */
export const PINNED_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const RESTART_WINDOW = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;
/** Default minutes between updater passes. */
export const DEFAULT_UPDATE_INTERVAL_MINUTES = 60;

/** Default seconds between the updater's liveness checks. */
export const DEFAULT_CHECK_SECONDS = 5;
/** Default delay before the updater's first update pass. */
export const DEFAULT_FIRST_PASS_DELAY_SECONDS = 60;

/** How supervision restarts a crashed app-server. */
export interface SupervisionSettings {
  /** Seconds between liveness checks (shell builtins only; no Deno when healthy). */
  checkSeconds: number;
  /** First backoff after a failed restart; doubles per consecutive failure. */
  backoffBaseSeconds: number;
  /** Cap of the backoff. */
  backoffMaxSeconds: number;
  /** Consecutive restarts without a stable run before giving up. */
  maxAttempts: number;
  /** Uptime after which a restarted app-server counts as healthy again. */
  stableSeconds: number;
}

/**
 * The updater's remote-control watchdog (`codexd watch-remote-control`, run
 * by the loop only while remote control is enabled): how long a server may
 * stay `errored`/`connecting` before it is switched off and on again live.
 */
export interface RemoteControlWatchSettings {
  /** Seconds between watchdog passes (each one starts Deno). */
  checkSeconds: number;
  /** How long a non-connected state may last before a reconnect (beyond the server's own retries). */
  staleAfterSeconds: number;
  /** Wait after a reconnect that did not help; doubles per consecutive one. */
  backoffBaseSeconds: number;
  /** Cap of that wait. */
  backoffMaxSeconds: number;
}

/** Where the updater installs releases from. */
export type InstallSource = "npm" | "install-sh";

/** Updater settings. */
export interface UpdaterSettings {
  /**
   * Whether the resident updater loop runs (set by `bootstrap`); it supervises
   * the app-server and, when {@linkcode UpdaterSettings.autoUpdateEnabled},
   * installs updates. `start`/`restart` re-ensure it when true.
   */
  enabled: boolean;
  /** Whether the updater installs new releases (supervision runs regardless). */
  autoUpdateEnabled: boolean;
  /** Minutes between update passes. */
  updateIntervalMinutes: number;
  /** Install source for updates. */
  source: InstallSource;
  /** Seconds before the first update pass after the updater starts. */
  firstPassDelaySeconds: number;
  /** Supervision of the app-server. */
  supervision: SupervisionSettings;
  /** The remote-control watchdog. */
  remoteControlWatch: RemoteControlWatchSettings;
  /**
   * Minutes a restart deferred for running turns may wait; then the turns
   * are interrupted (saved as interrupted) and the restart happens. `0`: never force.
   */
  restartDeadlineMinutes: number;
  /** Local-time window (`HH:MM-HH:MM`, may wrap midnight) outside which no deferred restart happens. */
  restartWindow?: string;
  /**
   * codexd only: the release the updater installs and runs instead of the
   * latest (`update --version X --pin`); absent follows the latest.
   */
  pinnedVersion?: string;
  /**
   * codexd only: restart (turn-safely) when the binary the app-server was
   * launched from is replaced by another version out of band. @default {true}
   */
  followBinary: boolean;
}

/** The settings codexd understands. */
export interface DaemonSettings {
  /** Launch the app-server with `--remote-control`. */
  remoteControlEnabled: boolean;
  /** Seconds between SIGTERM and SIGKILL on stop (0..300, or -1: no limit). */
  shutdownGraceSeconds: number;
  /** An externally owned codex binary to launch instead of the managed one. */
  codexBin?: string;
  /** Updater settings. */
  updater: UpdaterSettings;
}

/** Settings as read: the typed view plus the raw object (unknown keys kept). */
export interface LoadedSettings {
  /** The typed, defaulted view. */
  settings: DaemonSettings;
  /** The raw JSON object, written back with changes merged in. */
  raw: Record<string, unknown>;
}

/** The settings used when `settings.json` is missing. */
export function defaultSettings(): DaemonSettings {
  return {
    remoteControlEnabled: false,
    shutdownGraceSeconds: DEFAULT_SHUTDOWN_GRACE_SECONDS,
    updater: {
      enabled: false,
      autoUpdateEnabled: true,
      updateIntervalMinutes: DEFAULT_UPDATE_INTERVAL_MINUTES,
      source: "npm",
      firstPassDelaySeconds: DEFAULT_FIRST_PASS_DELAY_SECONDS,
      restartDeadlineMinutes: DEFAULT_RESTART_DEADLINE_MINUTES,
      followBinary: true,
      supervision: {
        checkSeconds: DEFAULT_CHECK_SECONDS,
        backoffBaseSeconds: 2,
        backoffMaxSeconds: 300,
        maxAttempts: 8,
        stableSeconds: 60,
      },
      remoteControlWatch: {
        checkSeconds: 60,
        staleAfterSeconds: 180,
        backoffBaseSeconds: 180,
        backoffMaxSeconds: 3600,
      },
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The accepted range of a numeric setting. */
export interface NumberRange {
  /** Smallest accepted value. */
  min: number;
  /** Whether `min` itself is accepted (false: strictly greater). */
  minInclusive: boolean;
  /** Largest accepted value (inclusive). */
  max: number;
  /** Whole numbers only. */
  integer?: boolean;
}

/**
 * The sane range of every numeric setting. Values beyond these (e.g.
 * `updateIntervalMinutes: 1e308`) used to pass as "positive" and then kill
 * or wedge the updater's `sh` arithmetic and `sleep` while `bootstrap`
 * reported success.
 */
export const SETTING_RANGES: Readonly<Record<string, NumberRange>> = {
  "updater.updateIntervalMinutes": { min: 0, minInclusive: false, max: 7 * 24 * 60 },
  "updater.firstPassDelaySeconds": { min: 0, minInclusive: true, max: 24 * 3600 },
  // 0 = never force; at most a year.
  "updater.restartDeadlineMinutes": { min: 0, minInclusive: true, max: 366 * 24 * 60 },
  "updater.supervision.checkSeconds": { min: 0, minInclusive: false, max: 3600 },
  "updater.supervision.backoffBaseSeconds": { min: 0, minInclusive: false, max: 3600 },
  "updater.supervision.backoffMaxSeconds": { min: 0, minInclusive: false, max: 24 * 3600 },
  "updater.supervision.maxAttempts": { min: 1, minInclusive: true, max: 1000, integer: true },
  "updater.supervision.stableSeconds": { min: 0, minInclusive: false, max: 24 * 3600 },
  "updater.remoteControlWatch.checkSeconds": { min: 0, minInclusive: false, max: 24 * 3600 },
  "updater.remoteControlWatch.staleAfterSeconds": { min: 0, minInclusive: true, max: 24 * 3600 },
  "updater.remoteControlWatch.backoffBaseSeconds": { min: 0, minInclusive: false, max: 24 * 3600 },
  "updater.remoteControlWatch.backoffMaxSeconds": { min: 0, minInclusive: false, max: 7 * 86400 },
};

/** A number within the setting's range, absent, or the reason it is invalid. */
function inRange(value: unknown, name: string): number | undefined | string {
  if (value === undefined) return undefined;
  const range = SETTING_RANGES[name];
  const kind = range.integer ? "whole number" : "number";
  if (
    typeof value !== "number" || !Number.isFinite(value) ||
    (range.minInclusive ? value < range.min : value <= range.min) ||
    (range.integer && !Number.isInteger(value))
  ) {
    if (range.min === 0) {
      return `${name} must be a ${range.minInclusive ? "non-negative" : "positive"} ${kind}`;
    }
    return `${name} must be a ${kind} of at least ${range.min}`;
  }
  if (value > range.max) return `${name} must be at most ${range.max}`;
  return value;
}

/**
 * Validates a parsed settings object. Returns the typed view or the reason it
 * is invalid; pure so it is tested by a table.
 */
export function validateSettings(file: unknown): DaemonSettings | string {
  if (!isObject(file)) return "settings must be a JSON object";
  if (file[CODEXD_KEY] !== undefined && !isObject(file[CODEXD_KEY])) {
    return `${CODEXD_KEY} must be an object`;
  }
  // codexd's own values (under `codexd`) laid over the shared keys.
  const raw = settingsView(file);
  const settings = defaultSettings();
  const { remoteControlEnabled, shutdownGraceSeconds, codexBin, updater } = raw;
  if (remoteControlEnabled !== undefined) {
    if (typeof remoteControlEnabled !== "boolean") {
      return "remoteControlEnabled must be a boolean";
    }
    settings.remoteControlEnabled = remoteControlEnabled;
  }
  if (shutdownGraceSeconds !== undefined) {
    if (
      typeof shutdownGraceSeconds !== "number" ||
      !Number.isFinite(shutdownGraceSeconds) ||
      (shutdownGraceSeconds < 0 && shutdownGraceSeconds !== NO_GRACE_LIMIT) ||
      shutdownGraceSeconds > MAX_SHUTDOWN_GRACE_SECONDS
    ) {
      return `shutdownGraceSeconds must be a number from 0 to ${MAX_SHUTDOWN_GRACE_SECONDS}, or ${NO_GRACE_LIMIT} for no limit`;
    }
    settings.shutdownGraceSeconds = shutdownGraceSeconds;
  }
  if (codexBin !== undefined && codexBin !== null) {
    if (typeof codexBin !== "string" || !codexBin.startsWith("/")) {
      return "codexBin must be an absolute path";
    }
    settings.codexBin = codexBin;
  }
  if (updater !== undefined) {
    if (!isObject(updater)) return "updater must be an object";
    const { enabled, autoUpdateEnabled, updateIntervalMinutes, source } = updater;
    if (enabled !== undefined) {
      if (typeof enabled !== "boolean") {
        return "updater.enabled must be a boolean";
      }
      settings.updater.enabled = enabled;
    }
    if (autoUpdateEnabled !== undefined) {
      if (typeof autoUpdateEnabled !== "boolean") {
        return "updater.autoUpdateEnabled must be a boolean";
      }
      settings.updater.autoUpdateEnabled = autoUpdateEnabled;
    }
    const interval = inRange(updateIntervalMinutes, "updater.updateIntervalMinutes");
    if (typeof interval === "string") return interval;
    if (interval !== undefined) settings.updater.updateIntervalMinutes = interval;
    const firstDelay = inRange(updater.firstPassDelaySeconds, "updater.firstPassDelaySeconds");
    if (typeof firstDelay === "string") return firstDelay;
    if (firstDelay !== undefined) settings.updater.firstPassDelaySeconds = firstDelay;
    const deadline = inRange(updater.restartDeadlineMinutes, "updater.restartDeadlineMinutes");
    if (typeof deadline === "string") return deadline;
    if (deadline !== undefined) settings.updater.restartDeadlineMinutes = deadline;
    const { restartWindow } = updater;
    if (restartWindow !== undefined && restartWindow !== null) {
      if (typeof restartWindow !== "string" || !RESTART_WINDOW.test(restartWindow)) {
        return 'updater.restartWindow must look like "02:00-05:00" (local time)';
      }
      if (restartWindow.slice(0, 5) === restartWindow.slice(6)) {
        return "updater.restartWindow must not be empty";
      }
      settings.updater.restartWindow = restartWindow;
    }
    const { pinnedVersion, followBinary } = updater;
    if (pinnedVersion !== undefined && pinnedVersion !== null) {
      if (typeof pinnedVersion !== "string" || !PINNED_VERSION.test(pinnedVersion)) {
        return 'updater.pinnedVersion must be an exact version such as "0.169.0"';
      }
      settings.updater.pinnedVersion = pinnedVersion;
    }
    if (followBinary !== undefined) {
      if (typeof followBinary !== "boolean") return "updater.followBinary must be a boolean";
      settings.updater.followBinary = followBinary;
    }
    if (source !== undefined) {
      if (source !== "npm" && source !== "install-sh") {
        return 'updater.source must be "npm" or "install-sh"';
      }
      settings.updater.source = source;
    }
    const { supervision } = updater;
    if (supervision !== undefined) {
      if (!isObject(supervision)) return "updater.supervision must be an object";
      for (
        const key of Object.keys(settings.updater.supervision) as (keyof SupervisionSettings)[]
      ) {
        const value = inRange(supervision[key], `updater.supervision.${key}`);
        if (typeof value === "string") return value;
        if (value !== undefined) settings.updater.supervision[key] = value;
      }
    }
    const watch = updater.remoteControlWatch;
    if (watch !== undefined) {
      if (!isObject(watch)) return "updater.remoteControlWatch must be an object";
      const keys = Object.keys(settings.updater.remoteControlWatch) as (
        keyof RemoteControlWatchSettings
      )[];
      for (const key of keys) {
        const value = inRange(watch[key], `updater.remoteControlWatch.${key}`);
        if (typeof value === "string") return value;
        if (value !== undefined) settings.updater.remoteControlWatch[key] = value;
      }
    }
  }
  return settings;
}

/**
 * Reads `settings.json`.
 *
 * @throws {CodexdError} `SETTINGS_INVALID` when the file is malformed.
 */
export async function loadSettings(paths: DaemonPaths): Promise<LoadedSettings> {
  const text = await readTextIfPresent(paths.settingsFile);
  if (text === undefined || text.trim() === "") {
    if (text !== undefined) {
      throw invalid(paths, "the file is empty");
    }
    return { settings: defaultSettings(), raw: {} };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Never quote the parser's message: it echoes the file's first bytes
    // (think of a settings.json symlinked to /etc/shadow).
    throw invalid(paths, "it is not valid JSON");
  }
  const settings = validateSettings(raw);
  if (typeof settings === "string") throw invalid(paths, settings);
  return { settings, raw: raw as Record<string, unknown> };
}

/** Reads settings, falling back to defaults when the file is malformed (for `stop`). */
export async function loadSettingsLenient(
  paths: DaemonPaths,
): Promise<DaemonSettings> {
  try {
    return (await loadSettings(paths)).settings;
  } catch (error) {
    if (error instanceof CodexdError) return defaultSettings();
    throw error;
  }
}

function invalid(paths: DaemonPaths, why: string): CodexdError {
  return new CodexdError(
    "SETTINGS_INVALID",
    `Cannot read settings ${paths.settingsFile}: ${why}`,
    `fix or remove ${paths.settingsFile}`,
  );
}

/** A change to settings; `updater` is merged key by key (`null` removes a key). */
export type SettingsPatch =
  & Partial<Omit<DaemonSettings, "updater" | "codexBin">>
  & {
    codexBin?: string | null;
    updater?:
      & Partial<Omit<UpdaterSettings, "supervision" | "remoteControlWatch" | "pinnedVersion">>
      & { pinnedVersion?: string | null };
  };

/**
 * Applies `patch` to the settings file atomically, keeping unknown keys.
 * Call under the daemon lock. Returns the new typed settings.
 */
export async function updateSettings(
  paths: DaemonPaths,
  patch: SettingsPatch,
): Promise<DaemonSettings> {
  const { raw } = await loadSettings(paths);
  const next: Record<string, unknown> = settingsView(raw);
  for (const [key, value] of Object.entries(patch)) {
    if (key === "updater") continue;
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  if (patch.updater !== undefined) {
    const updater = isObject(next.updater) ? { ...next.updater } : {};
    for (const [key, value] of Object.entries(patch.updater)) {
      if (value === null) delete updater[key];
      else if (value !== undefined) updater[key] = value;
    }
    next.updater = updater;
  }
  const settings = validateSettings(next);
  if (typeof settings === "string") throw invalid(paths, settings);
  await ensureStateDir(paths);
  await writeFileAtomic(
    paths.settingsFile,
    JSON.stringify(settingsOnDisk(next, raw, codexdUpdaterKeys()), null, 2) + "\n",
  );
  return settings;
}

/** JSON with object keys sorted, to compare two files' meaning. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : 1)) : v,
  );
}

/**
 * Rewrites a `settings.json` still in an older layout (codexd's own values where the reference
 * reads, e.g. `shutdownGraceSeconds: -1`, which makes every reference command fail) into the
 * shared one, under the lock of every mutating command; a missing or malformed file is left alone
 * (the command reports it). `raw`: the file as the caller just read it ({@linkcode loadSettings}'s:
 * one read, not two). Returns whether it rewrote the file.
 */
export async function migrateSettings(paths: DaemonPaths, raw?: SettingsJson): Promise<boolean> {
  try {
    raw ??= (await loadSettings(paths)).raw;
  } catch {
    return false;
  }
  const ownKeys = codexdUpdaterKeys();
  if (!needsMigration(raw, ownKeys)) return false;
  const disk = settingsOnDisk(settingsView(raw), raw, ownKeys);
  if (canonical(disk) === canonical(raw)) return false;
  await writeFileAtomic(paths.settingsFile, JSON.stringify(disk, null, 2) + "\n");
  return true;
}

/** Updater keys without a default (absent unless set). */
const OPTIONAL_UPDATER_KEYS: readonly string[] = ["restartWindow", "pinnedVersion"];

/**
 * The updater keys only codexd reads: every key of {@linkcode UpdaterSettings}
 * but the reference's two. They are written under `codexd.updater`.
 */
export function codexdUpdaterKeys(): string[] {
  return [...Object.keys(defaultSettings().updater), ...OPTIONAL_UPDATER_KEYS]
    .filter((key) => !REFERENCE_UPDATER_KEYS.includes(key));
}
