/**
 * How `settings.json` is laid out on disk so that the reference (`codex
 * app-server daemon`, which reads the same file) keeps working. Pure
 * functions, tested by tables; `settings.ts` does the I/O.
 *
 * Measured with the reference 0.169.0 and 0.171.0 (`version`/`start` against a
 * running server): it parses exactly `remoteControlEnabled` (boolean),
 * `shutdownGraceSeconds` (whole number, 0–300), `updater` (object) with
 * `updater.autoUpdateEnabled` (boolean) and `updater.updateIntervalMinutes`
 * (whole number 1–4294967295); `null`, `60.0`, `-1` or `1e9` in any of them
 * fail every command that reads settings ("failed to parse settings"). It
 * ignores every other key, also inside `updater`, and keeps them when it
 * rewrites the file (`enable-remote-control`).
 *
 * The layout:
 * ```json
 * { "remoteControlEnabled": false, "shutdownGraceSeconds": 300,
 *   "updater": { "autoUpdateEnabled": true, "updateIntervalMinutes": 60 },
 *   "codexd": { "shutdownGraceSeconds": -1, "codexBin": "/opt/codex",
 *     "updater": { "enabled": true, "source": "npm", "supervision": {…}, … } } }
 * ```
 * The shared keys always hold values the reference accepts. A codexd value
 * the reference cannot hold (the "no limit" grace `-1`, a fractional grace or
 * interval) is kept exactly under `codexd`, which wins when codexd reads; the
 * shared key keeps a valid value it has (the reference's own setting), else
 * gets the reference's form (`-1` → 300, `2.5` → 3, below a minute → 1). Every codexd-only key lives under `codexd`
 * (`codexd.updater.<key>` for updater keys). Files written before this layout
 * (codexd-only keys at the top level and in `updater`, `-1` as
 * `shutdownGraceSeconds`) are still read, and moved on the next write.
 *
 * @module
 */

/** The object codexd's own values live under; the reference ignores it. */
export const CODEXD_KEY = "codexd";
/** Top-level keys only codexd reads (written under `codexd`). */
export const CODEXD_TOP_KEYS: readonly string[] = ["codexBin"];
/** `updater` keys the reference parses; every other updater key codexd knows lives under `codexd.updater`. */
export const REFERENCE_UPDATER_KEYS: readonly string[] = [
  "autoUpdateEnabled",
  "updateIntervalMinutes",
];
/** Largest `shutdownGraceSeconds` the reference accepts. */
export const REFERENCE_MAX_GRACE_SECONDS = 300;
/** Largest `updater.updateIntervalMinutes` the reference accepts (u32). */
export const REFERENCE_MAX_INTERVAL_MINUTES = 4_294_967_295;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The flat view codexd validates: the shared keys, with the `codexd` object's
 * values laid over them (and over the keys older files kept at the top level
 * and in `updater`). The `codexd` key itself is dropped from the view.
 */
export function settingsView(raw: Json): Json {
  const { [CODEXD_KEY]: ownRaw, ...view } = raw;
  const own = isObject(ownRaw) ? ownRaw : {};
  const { updater: ownUpdater, ...ownTop } = own;
  Object.assign(view, ownTop);
  if (isObject(ownUpdater)) {
    view.updater = { ...(isObject(raw.updater) ? raw.updater : {}), ...ownUpdater };
  }
  return view;
}

/** `value` in the form the reference accepts for `shutdownGraceSeconds`. */
export function referenceGrace(value: number): number {
  if (value < 0) return REFERENCE_MAX_GRACE_SECONDS; // "no limit": the longest it knows
  return Math.min(REFERENCE_MAX_GRACE_SECONDS, Math.ceil(value));
}

/** `value` in the form the reference accepts for `updater.updateIntervalMinutes`. */
export function referenceInterval(value: number): number {
  return Math.min(REFERENCE_MAX_INTERVAL_MINUTES, Math.max(1, Math.ceil(value)));
}

function isWhole(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Whether a file read as `raw` still holds codexd's own values where the
 * reference reads (an older layout): the cheap check every locking command
 * makes before {@linkcode settingsOnDisk} would rewrite it. Pure; tested by a
 * table.
 */
export function needsMigration(raw: Json, ownUpdaterKeys: readonly string[]): boolean {
  if (CODEXD_TOP_KEYS.some((key) => key in raw)) return true;
  const grace = raw.shutdownGraceSeconds;
  if (grace !== undefined && !isWhole(grace, 0, REFERENCE_MAX_GRACE_SECONDS)) return true;
  if (!isObject(raw.updater)) return false;
  const updater = raw.updater;
  if (Object.keys(updater).some((key) => ownUpdaterKeys.includes(key))) return true;
  const interval = updater.updateIntervalMinutes;
  return interval !== undefined && !isWhole(interval, 1, REFERENCE_MAX_INTERVAL_MINUTES);
}

/**
 * The on-disk object for the flat `view` (validated), given the file as it
 * was (`raw`): shared keys in the reference's form, codexd's own values under
 * `codexd`, keys neither knows kept where they were.
 *
 * @param ownUpdaterKeys The updater keys codexd owns (all it knows but the
 * reference's two).
 */
export function settingsOnDisk(view: Json, raw: Json, ownUpdaterKeys: readonly string[]): Json {
  const disk: Json = {};
  const own: Json = isObject(raw[CODEXD_KEY]) ? { ...raw[CODEXD_KEY] as Json } : {};
  const ownUpdater: Json = isObject(own.updater) ? { ...own.updater } : {};
  for (const [key, value] of Object.entries(view)) {
    if (key === "updater") continue;
    if (CODEXD_TOP_KEYS.includes(key)) {
      own[key] = value;
    } else if (key === "shutdownGraceSeconds" && typeof value === "number") {
      if (isWhole(value, 0, REFERENCE_MAX_GRACE_SECONDS)) {
        disk[key] = value;
        delete own[key];
      } else {
        // The reference's own value stays when it has a valid one.
        disk[key] = isWhole(raw[key], 0, REFERENCE_MAX_GRACE_SECONDS)
          ? raw[key]
          : referenceGrace(value);
        own[key] = value;
      }
    } else {
      disk[key] = value;
    }
  }
  // Keys removed from the view (e.g. `codexBin: null`) leave `codexd` too.
  for (const key of CODEXD_TOP_KEYS) if (!(key in view)) delete own[key];
  if (isObject(view.updater)) {
    const shared: Json = {};
    for (const [key, value] of Object.entries(view.updater)) {
      if (key === "updateIntervalMinutes" && typeof value === "number") {
        const saved = isObject(raw.updater) ? raw.updater[key] : undefined;
        if (isWhole(value, 1, REFERENCE_MAX_INTERVAL_MINUTES)) {
          shared[key] = value;
          delete ownUpdater[key];
        } else {
          shared[key] = isWhole(saved, 1, REFERENCE_MAX_INTERVAL_MINUTES)
            ? saved
            : referenceInterval(value);
          ownUpdater[key] = value;
        }
      } else if (ownUpdaterKeys.includes(key)) {
        ownUpdater[key] = value;
      } else {
        shared[key] = value;
      }
    }
    disk.updater = shared;
    // Keys removed from the view (e.g. `pinnedVersion` after `--unpin`) leave `codexd.updater` too.
    for (const key of ownUpdaterKeys) if (!(key in view.updater)) delete ownUpdater[key];
  }
  if (Object.keys(ownUpdater).length > 0) own.updater = ownUpdater;
  else delete own.updater;
  if (Object.keys(own).length > 0) disk[CODEXD_KEY] = own;
  return disk;
}
