/**
 * Which of the two layouts a CODEX_HOME is in, so that codexd and the
 * reference (`codex app-server daemon`, codex ≥ 0.169) each manage the
 * other's server on it. Measured with the real reference 0.169.0 and 0.171.0
 * (tests/server/reference_neighbour_test.ts has the facts):
 *
 * - **package**: the reference's own package
 *   `packages/app-server-daemon/current/bin/codex`, the server record
 *   `daemon.pid`, its log `daemon.stderr.log`, its updater `daemon-updater.pid`.
 *   The reference picks it when any `daemon.*` file is in the state directory,
 *   and on a home with no state at all (its `start` then installs the package).
 * - **standalone** (the reference calls it legacy): the install.sh binary
 *   `packages/standalone/current/bin/codex`, the record `app-server.pid`, the
 *   log `app-server.stderr.log`. The reference picks it when only
 *   `app-server.*` files are there.
 *
 * The app-server itself (with `--managed-daemon`) makes the same choice to
 * open its own log: a `daemon.pid` or `daemon.stderr.log` on a home without
 * the package makes it write `daemon.stderr.log`, after which the reference
 * refuses that home ("daemon executable not found"). So codexd writes
 * `daemon.pid` and `daemon.stderr.log` only on a home in the package layout,
 * and clears a `daemon.stderr.log` it left earlier on a home without the
 * package; it reads both records always.
 *
 * @module
 */
import { pathExists } from "./atomic_file.ts";
import type { DaemonPaths } from "./paths.ts";
import { join } from "./paths.ts";

/** The two layouts a home can be in. */
export type HomeFlavour = "standalone" | "package";

/** What decides a home's layout, read from disk. */
export interface HomeFacts {
  /** The install.sh (or codexd npm) binary exists. */
  standaloneBinary: boolean;
  /** The reference's package binary exists. */
  packageBinary: boolean;
  /** A `daemon.*` record or log of the reference's package layout is present. */
  packageMarkers: boolean;
}

/** Where a server of one layout is recorded and logs. */
export interface HomeLayout {
  /** Which layout. */
  flavour: HomeFlavour;
  /** The server record codexd writes (`app-server.pid` or `daemon.pid`). */
  recordFile: string;
  /** The server's stderr log (`app-server.stderr.log` or `daemon.stderr.log`). */
  logFile: string;
}

/**
 * The layout of a home (pure; tested by a table): the package layout only
 * where the reference's package exists and the reference already uses it (its
 * files are there) or it is the only install; otherwise the standalone one,
 * which the reference also manages.
 */
export function decideFlavour(facts: HomeFacts): HomeFlavour {
  if (!facts.packageBinary) return "standalone";
  return facts.packageMarkers || !facts.standaloneBinary ? "package" : "standalone";
}

/** The record and log of `flavour`. */
export function layoutOf(paths: DaemonPaths, flavour: HomeFlavour): HomeLayout {
  return flavour === "package"
    ? { flavour, recordFile: paths.referencePidFile, logFile: paths.referenceLogFile }
    : { flavour, recordFile: paths.pidFile, logFile: paths.logFile };
}

/** Reads the facts {@linkcode decideFlavour} needs. */
export function readHomeFacts(paths: DaemonPaths): HomeFacts {
  const current = join(paths.standaloneDir, "current");
  return {
    standaloneBinary: pathExists(join(current, "codex")) ||
      pathExists(join(current, "bin", "codex")),
    packageBinary: pathExists(paths.referencePackageBinary),
    packageMarkers: [paths.referencePidFile, paths.referenceLogFile, paths.referenceUpdaterPidFile]
      .some((file) => pathExists(file, { follow: false })),
  };
}

/** The layout this home is in now. */
export function homeLayout(paths: DaemonPaths): HomeLayout {
  return layoutOf(paths, decideFlavour(readHomeFacts(paths)));
}

/**
 * Before a spawn in the standalone layout on a home without the reference's
 * package: removes the `daemon.stderr.log` an earlier codexd let the
 * app-server write there. Left in place it makes the app-server log there
 * again and the reference refuse the home.
 */
export async function clearStrayPackageLog(paths: DaemonPaths, layout: HomeLayout): Promise<void> {
  if (layout.flavour !== "standalone" || pathExists(paths.referencePackageBinary)) return;
  for (const file of [paths.referenceLogFile, `${paths.referenceLogFile}.previous`]) {
    await Deno.remove(file).catch(() => {});
  }
}
