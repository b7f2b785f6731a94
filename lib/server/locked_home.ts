/**
 * The one preamble of the commands that change a home: make the context
 * (platform, permissions, a safe CODEX_HOME), fail `HOME_NOT_FOUND` for a
 * home that does not exist, take `daemon.lock`, read settings — then run the
 * command's body with `(ctx, settings)` and release the lock however it
 * ends. {@linkcode withLockedHome} does all of it; {@linkcode underLock} is
 * the part after the context, for a command that needs its context first
 * (`restart` and `stop` count turns or wait for idle before taking the lock,
 * and take it once per attempt).
 *
 * Read-only commands (`status`, `version`, `logs`) take no lock and make
 * their context alone; the updater's passes try the lock without waiting
 * and report `busy` instead.
 *
 * @module
 */
import { createContext, type DaemonContext, type DaemonOptions, lockDaemon } from "./context.ts";
import {
  type DaemonSettings,
  defaultSettings,
  loadSettings,
  migrateSettings,
} from "../state/settings.ts";

/** How {@linkcode underLock} reads settings. */
export interface LockedHomeOptions {
  /**
   * `strict`: a malformed `settings.json` fails `SETTINGS_INVALID` before the
   * body runs. `lenient`: it reads as the defaults, for the commands that
   * must work whatever settings say (`stop`, `adopt`); the body is told.
   * @default {"strict"}
   */
  settings?: "strict" | "lenient";
}

/**
 * The body of a locked command: the context, the settings in force, and
 * whether they were read from the file (`false` only under `lenient`, when
 * the defaults stand in for a malformed file).
 */
export type LockedBody<T> = (
  ctx: DaemonContext,
  settings: DaemonSettings,
  settingsReadable: boolean,
) => Promise<T>;

/**
 * Makes the context for `options`, then runs `body` {@linkcode underLock}.
 *
 * @throws {CodexdError} what `createContext` throws, `HOME_NOT_FOUND`,
 * `LOCK_TIMEOUT`, `SETTINGS_INVALID` (`strict` only), and what `body` throws.
 */
export async function withLockedHome<T>(
  options: DaemonOptions,
  body: LockedBody<T>,
  how: LockedHomeOptions = {},
): Promise<T> {
  return await underLock(createContext(options), body, how);
}

/**
 * Checks the home, takes `daemon.lock` (bounded wait), reads settings and
 * runs `body`; the lock is released when `body` settles.
 *
 * @throws {CodexdError} `HOME_NOT_FOUND`, `LOCK_TIMEOUT`, `SETTINGS_INVALID`
 * (`strict` only), and what `body` throws.
 */
export async function underLock<T>(
  ctx: DaemonContext,
  body: LockedBody<T>,
  how: LockedHomeOptions = {},
): Promise<T> {
  // Settings are read once, here, and migrated from that read (lockDaemon would read them again).
  await using _lock = await lockDaemon(ctx, { migrate: false });
  if (how.settings === "lenient") {
    const loaded = await loadSettings(ctx.paths).catch(() => undefined);
    if (loaded) await migrateSettings(ctx.paths, loaded.raw).catch(() => false);
    return await body(ctx, loaded?.settings ?? defaultSettings(), loaded !== undefined);
  }
  const { settings, raw } = await loadSettings(ctx.paths);
  await migrateSettings(ctx.paths, raw).catch(() => false);
  return await body(ctx, settings, true);
}
