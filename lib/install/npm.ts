/**
 * Installing codex from the npm registry into the standalone layout that
 * install.sh also writes (see `layout.ts`), under CODEX_HOME's
 * `packages/standalone/`, holding install.sh's lock (`lock.ts`).
 *
 * `@openai/codex@<v>-<platform>` (`<v>` a strict semver, `registry.ts`) is
 * downloaded over http(s) to `.install-<rand>/` within size, time and
 * throughput bounds while its sha512 `dist.integrity` is computed
 * (`download.ts`), its members are checked (`tar_scan.ts`) and it is
 * extracted with the system `tar` (`tarball.ts`), staged as
 * `releases/.staging-<rand>` and sealed (`release_tree.ts`), and
 * `bin/codex --version` must print `codex-cli <v>` before it is renamed to
 * `releases/<v>-<target>` and `current` is swapped. Any failure or
 * interrupt (the `signal` option) removes the work directories and leaves
 * everything else as it was: a running app-server keeps serving. Leftovers
 * of killed installs are swept first (`layout.ts`).
 *
 * Off the hot path (only `update`, `bootstrap --install` and the updater load it).
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import { type DaemonPaths, join } from "../state/paths.ts";
import { download, type DownloadLimits } from "./download.ts";
import {
  currentRelease,
  markChannel,
  moveIntoPlace,
  removeStaleArtifacts,
  sweepIfIdle,
  switchCurrent,
} from "./layout.ts";
import { acquireInstallLock, INSTALL_LOCK_TIMEOUT_MS } from "./lock.ts";
import {
  configuredRegistry,
  type Dist,
  METADATA_TIMEOUT_MS,
  normalizeVersion,
  npmPlatform,
  resolveDist,
  resolveRegistry,
  targetTriple,
} from "./registry.ts";
import { sealRelease } from "./release_tree.ts";
import { installFailed, interrupted, type StageListener } from "./step.ts";
import { checkRelease, extractPackage } from "./tarball.ts";
import type { TarLimits } from "./tar_scan.ts";

/** Options for {@linkcode installFromNpm}. */
export interface NpmInstallOptions extends DownloadLimits {
  /** `latest` or an exact version such as `0.169.0` (a leading `v` is dropped). @default {"latest"} */
  version?: string;
  /**
   * Registry base URL. @default {`NPM_CONFIG_REGISTRY`/`npm_config_registry`,
   * else `registry=` in the user npmrc, else DEFAULT_REGISTRY}
   */
  registry?: string;
  /** npm platform suffix such as `linux-x64`. @default {npmPlatform()} */
  platform?: string;
  /** Bound on the metadata request. @default {METADATA_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Bound on waiting for `install.lock`. @default {INSTALL_LOCK_TIMEOUT_MS} */
  lockTimeoutMs?: number;
  /** Download progress: bytes received, and the total when the server sent it. */
  onProgress?: (received: number, total?: number) => void;
  /** Each stage as it begins (resolving, downloading, extracting, verifying, switching). */
  onStage?: StageListener;
  /** Caps on the unpacked tarball. @default {EXTRACT_MAX_BYTES, EXTRACT_MAX_ENTRIES} */
  extract?: TarLimits;
  /**
   * Aborting it stops the install at the next step (the CLI aborts it on
   * SIGINT/SIGTERM): its work files are removed, nothing changes, and it
   * throws `INTERRUPTED`. Once the new release is in place the install
   * completes instead.
   */
  signal?: AbortSignal;
}

/** What {@linkcode installFromNpm} did. */
export interface NpmInstallResult {
  /** The installed version. */
  version: string;
  /** Its target triple. */
  target: string;
  /** `packages/standalone/releases/<v>-<target>`. */
  releaseDir: string;
  /** False when that release was already installed and current. */
  installed: boolean;
  /** The release directory name `current` pointed to before, when it changed. */
  previousRelease?: string;
}

/** Downloads, extracts and verifies a release into `releases/<name>`; the lock is held. */
async function installRelease(
  paths: DaemonPaths,
  dist: Dist,
  target: string,
  options: NpmInstallOptions,
): Promise<void> {
  const { signal } = options;
  const releases = join(paths.standaloneDir, "releases");
  const releaseDir = join(releases, `${dist.version}-${target}`);
  const work = await Deno.makeTempDir({ dir: paths.standaloneDir, prefix: ".install-" });
  const staging = join(releases, `.staging-${crypto.randomUUID().slice(0, 8)}`);
  try {
    const tarball = join(work, "codex.tgz");
    options.onStage?.("downloading", dist.version);
    await download(dist, tarball, options);
    signal?.throwIfAborted();
    options.onStage?.("extracting", dist.version);
    const extracted = join(work, "x");
    await Deno.mkdir(extracted);
    const vendor = await extractPackage(
      tarball,
      extracted,
      target,
      { url: dist.tarball, version: dist.version },
      { ...options.extract, signal },
    );
    await Deno.rename(vendor, staging);
    options.onStage?.("verifying", dist.version);
    const unsafe = await sealRelease(staging);
    if (unsafe !== undefined) throw installFailed(`unsafe package ${dist.tarball}: ${unsafe}`);
    const problem = await checkRelease(staging, dist.version, signal);
    signal?.throwIfAborted();
    if (problem !== undefined) throw installFailed(problem);
    await moveIntoPlace(staging, releaseDir);
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * Installs a codex release from npm and makes it `current`.
 *
 * @throws {CodexdError} `INSTALL_FAILED` with the reason (nothing changed),
 * `UNSUPPORTED_PLATFORM`, or `LOCK_TIMEOUT` when another install runs too long.
 * @example Install a pinned version
 * ```ts ignore
 * import { installFromNpm } from "./npm.ts";
 * import { daemonPaths } from "../state/paths.ts";
 * const result = await installFromNpm(daemonPaths("/home/me/.codex"), { version: "0.169.0" });
 * console.log(result.installed ? `now ${result.version}` : "already current");
 * ```
 */
export async function installFromNpm(
  paths: DaemonPaths,
  options: NpmInstallOptions = {},
): Promise<NpmInstallResult> {
  const { version = "latest", registry, platform = npmPlatform(), signal } = options;
  const target = targetTriple(platform);
  const requested = normalizeVersion(version);
  const base = registry === undefined
    ? configuredRegistry()
    : resolveRegistry({ NPM_CONFIG_REGISTRY: registry });
  try {
    // Leftovers of killed installs go first, even when the registry is down.
    await sweepIfIdle(paths);
    return await install(paths, base, requested, platform, target, options);
  } catch (error) {
    if (signal?.aborted && !(error instanceof CodexdError && error.code === "LOCK_TIMEOUT")) {
      throw interrupted(signal);
    }
    // File system surprises (permissions, a full disk) are install failures too.
    if (error instanceof CodexdError) throw error;
    throw installFailed(`in ${paths.standaloneDir}`, error);
  }
}

async function install(
  paths: DaemonPaths,
  registry: string,
  requested: string,
  platform: string,
  target: string,
  options: NpmInstallOptions,
): Promise<NpmInstallResult> {
  const { timeoutMs = METADATA_TIMEOUT_MS, lockTimeoutMs = INSTALL_LOCK_TIMEOUT_MS, signal } =
    options;
  // Metadata first, outside the lock: a slow registry does not block others.
  options.onStage?.("resolving", requested);
  const dist = await resolveDist(registry, requested, platform, timeoutMs, signal);
  const name = `${dist.version}-${target}`;
  const releaseDir = join(paths.standaloneDir, "releases", name);

  await using _lock = await acquireInstallLock(paths, { timeoutMs: lockTimeoutMs, signal });
  await removeStaleArtifacts(paths);
  await Deno.mkdir(join(paths.standaloneDir, "releases"), { recursive: true });
  const before = await currentRelease(paths);
  const complete = (await checkRelease(releaseDir, dist.version, signal)) === undefined;
  signal?.throwIfAborted();
  if (complete && before === name) {
    await markChannel(paths, name, requested === "latest");
    return { version: dist.version, target, releaseDir, installed: false };
  }
  if (!complete) await installRelease(paths, dist, target, options);
  // The release is in place: finish (swap and marker) even when interrupted now.
  options.onStage?.("switching", dist.version);
  const previous = await switchCurrent(paths, name, { installLockHeld: true });
  await markChannel(paths, name, requested === "latest");
  // A broken current release reinstalled in place has nothing to roll back to.
  const previousRelease = previous === name ? undefined : previous;
  return { version: dist.version, target, releaseDir, installed: true, previousRelease };
}
