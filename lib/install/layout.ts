/**
 * The standalone release layout install.sh also writes, under
 * `CODEX_HOME/packages/standalone/`:
 *
 * - `releases/<v>-<target>/`: one directory per installed release;
 * - `current`: a relative symlink to `releases/<name>`, swapped atomically
 *   (a new symlink `.current-<rand>` renamed over the old one);
 * - `auto-update-version`: install.sh's latest-channel marker, naming the
 *   release `current` was installed as latest;
 * - work directories of installs (`.install-*`, `releases/.staging-*`,
 *   `releases/.old-*`, `.current[-.]*`), removed when an install was killed
 *   mid-way.
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import { type DaemonPaths, join } from "../state/paths.ts";
import { acquireInstallLock } from "./lock.ts";
import { installFailed } from "./step.ts";
import { basename } from "@std/path/posix/basename";
import { dirname } from "@std/path/posix/dirname";

/** install.sh's latest-channel marker: holds the release name `current` was installed as latest. */
export const AUTO_UPDATE_MARKER = "auto-update-version";

/** The release name `current` points at (its last path component), if it is a symlink. */
export async function currentRelease(paths: DaemonPaths): Promise<string | undefined> {
  try {
    const target = await Deno.readLink(join(paths.standaloneDir, "current"));
    return basename(target);
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode switchCurrent}. */
export interface SwitchCurrentOptions {
  /** The caller already holds the install lock (an install finishing its release). @default {false} */
  installLockHeld?: boolean;
  /** Bound on waiting for the install lock when not held. @default {INSTALL_LOCK_TIMEOUT_MS} */
  lockTimeoutMs?: number;
}

/**
 * The one place that moves `packages/standalone/current`: points it at
 * `releases/<releaseName>` atomically, under the install lock (taken here
 * unless the caller holds it), and returns the release name it pointed to
 * before. The latest-channel marker moves with it when it named the
 * previous release, so a rollback stays on the latest channel (an install
 * then records its own channel with {@linkcode markChannel}).
 *
 * Used by the npm installer (a new release), by `update` (staying off a
 * release that failed before) and by the release switch (rolling back);
 * tests/install/current_link_test.ts checks that nothing else renames the link.
 *
 * @throws {CodexdError} `INSTALL_FAILED` when that release does not exist;
 * `LOCK_TIMEOUT` when another install holds the lock too long.
 */
export async function switchCurrent(
  paths: DaemonPaths,
  releaseName: string,
  options: SwitchCurrentOptions = {},
): Promise<string | undefined> {
  if (options.installLockHeld) return await swapLink(paths, releaseName);
  await using _lock = await acquireInstallLock(paths, { timeoutMs: options.lockTimeoutMs });
  return await swapLink(paths, releaseName);
}

/** The swap itself, the install lock held: the link, then the marker that followed it. */
async function swapLink(paths: DaemonPaths, releaseName: string): Promise<string | undefined> {
  const relative = `releases/${releaseName}`;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(releaseName)) {
    throw installFailed(`"${releaseName}" is not a release directory name`);
  }
  try {
    if (!(await Deno.stat(join(paths.standaloneDir, relative))).isDirectory) {
      throw new Error("not a directory");
    }
  } catch (error) {
    throw installFailed(`cannot point current at ${relative}`, error);
  }
  const previous = await currentRelease(paths);
  // Relative, so the layout survives moving CODEX_HOME; rename() makes the
  // swap atomic, so a concurrent launch sees the old or the new release.
  const temp = join(paths.standaloneDir, `.current-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.symlink(relative, temp);
  try {
    await Deno.rename(temp, join(paths.standaloneDir, "current"));
  } catch (error) {
    await removeIfPresent(temp).catch(() => {});
    throw installFailed(`cannot point current at ${relative}`, error);
  }
  const marker = join(paths.standaloneDir, AUTO_UPDATE_MARKER);
  if (
    previous !== undefined && previous !== releaseName &&
    (await readTextIfPresent(marker))?.trim() === previous
  ) {
    await writeFileAtomic(marker, releaseName, { mode: 0o644 });
  }
  return previous;
}

/** Records the channel as install.sh does: `latest` marks the release, a pin clears the mark. */
export async function markChannel(
  paths: DaemonPaths,
  releaseName: string,
  latest: boolean,
): Promise<void> {
  const marker = join(paths.standaloneDir, AUTO_UPDATE_MARKER);
  if (latest) await writeFileAtomic(marker, releaseName, { mode: 0o644 });
  else await removeIfPresent(marker);
}

/**
 * Removes what an install killed mid-way left behind: ours and install.sh's
 * staging directories and temp symlinks. Only under the install lock, where
 * no other installer can be using them.
 */
export async function removeStaleArtifacts(paths: DaemonPaths): Promise<void> {
  const sweep = async (dir: string, pattern: RegExp): Promise<void> => {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (pattern.test(entry.name)) {
          await Deno.remove(join(dir, entry.name), { recursive: true }).catch(() => {});
        }
      }
    } catch {
      // not there yet
    }
  };
  await sweep(paths.standaloneDir, /^\.(install-|current[-.])/);
  await sweep(join(paths.standaloneDir, "releases"), /^\.(staging[-.]|old-)/);
}

/**
 * Sweeps stale work directories now if no install runs (the install lock is
 * free); otherwise leaves them to the running install, which sweeps under
 * the lock too. Never waits and never fails: called at the start of every
 * install and every updater pass.
 */
export async function sweepIfIdle(paths: DaemonPaths): Promise<void> {
  try {
    await Deno.stat(paths.standaloneDir);
  } catch {
    return; // nothing installed: nothing to sweep, and no directory to create
  }
  try {
    await using _lock = await acquireInstallLock(paths, { timeoutMs: 0 });
    await removeStaleArtifacts(paths);
  } catch {
    // busy: the holder sweeps
  }
}

/**
 * Renames a verified `staging` directory to `releaseDir`. An incomplete
 * directory of that name is moved aside, not deleted first, so there is
 * never a moment without one if the rename fails.
 */
export async function moveIntoPlace(staging: string, releaseDir: string): Promise<void> {
  const releases = dirname(releaseDir);
  const aside = join(releases, `.old-${crypto.randomUUID().slice(0, 8)}`);
  const hadOld = await Deno.rename(releaseDir, aside).then(() => true, () => false);
  try {
    await Deno.rename(staging, releaseDir);
  } catch (error) {
    if (hadOld) await Deno.rename(aside, releaseDir).catch(() => {});
    throw installFailed(`cannot move the release into ${releaseDir}`, error);
  }
  if (hadOld) await Deno.remove(aside, { recursive: true }).catch(() => {});
}
