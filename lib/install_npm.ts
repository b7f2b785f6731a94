/**
 * Installing codex from the npm registry into the standalone layout that
 * install.sh also writes, under CODEX_HOME:
 *
 * - `packages/standalone/install.lock` (flock, shared with install.sh) and
 *   `install.lock.d/` (install.sh's mkdir lock, used where `flock` is missing;
 *   taken too so either kind of installer waits for us);
 * - `packages/standalone/releases/<v>-<target>/` (staged as
 *   `releases/.staging-<rand>` and renamed into place once verified);
 * - `packages/standalone/current`, a relative symlink swapped atomically
 *   (a new symlink renamed over the old one);
 * - `packages/standalone/auto-update-version`, install.sh's latest-channel
 *   marker: written when `latest` was installed, removed for a pinned version,
 *   so the reference's updater treats the install as install.sh would.
 *
 * `@openai/codex@<v>-<platform>` is downloaded to `.install-<rand>/` while its
 * sha512 `dist.integrity` is computed, extracted with the system `tar`, and
 * `bin/codex --version` must print `codex-cli <v>`. Any failure leaves
 * everything as it was: a running app-server keeps serving.
 *
 * Off the hot path (only `update`, `bootstrap --install` and the updater load
 * it), so it may use `node:crypto` for streaming hashing.
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "./atomic_file.ts";
import { systemClock } from "./clock.ts";
import { CodexdError, describeError } from "./errors.ts";
import { parseCliVersion } from "./managed_binary.ts";
import { type DaemonPaths, join } from "./paths.ts";
import { probeProcess } from "./process_identity.ts";

/** The package that carries codex on npm. */
export const CODEX_PACKAGE = "@openai/codex";
/** The public npm registry, used when npm is not configured otherwise. */
export const DEFAULT_REGISTRY = "https://registry.npmjs.org/";
/** Bound on the metadata request. */
export const METADATA_TIMEOUT_MS = 30_000;
/** A download that receives nothing for this long is abandoned. */
export const DOWNLOAD_STALL_MS = 60_000;
/** Bound on waiting for another install (install.sh or codexd) to finish. */
export const INSTALL_LOCK_TIMEOUT_MS = 10 * 60_000;
/** Bound on `tar` and on the new binary's `--version`. */
export const INSTALL_STEP_TIMEOUT_MS = 5 * 60_000;
/**
 * install.sh's `LOCK_STALE_AFTER_SECS`: a mkdir lock whose owner is gone is
 * taken over only after this long (the pid may belong to another host).
 */
export const MKDIR_LOCK_STALE_MS = 600_000;
/** Lock file shared with install.sh (flock). */
export const INSTALL_LOCK_FILE = "install.lock";
/** install.sh's fallback lock directory, with `pid` and `started_at` inside. */
export const INSTALL_LOCK_DIR = "install.lock.d";
/** install.sh's latest-channel marker: holds the release name `current` was installed as latest. */
export const AUTO_UPDATE_MARKER = "auto-update-version";

const LOCK_POLL_MS = 250;

/** Options for {@linkcode installFromNpm}. */
export interface NpmInstallOptions {
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
  /** Stall bound of the tarball download. @default {DOWNLOAD_STALL_MS} */
  stallMs?: number;
  /** Bound on waiting for `install.lock`. @default {INSTALL_LOCK_TIMEOUT_MS} */
  lockTimeoutMs?: number;
  /** Download progress: bytes received, and the total when the server sent it. */
  onProgress?: (received: number, total?: number) => void;
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

/** This machine's npm platform suffix (`linux-x64`, `darwin-arm64`, …). */
export function npmPlatform(
  os: string = Deno.build.os,
  arch: string = Deno.build.arch,
): string {
  const cpu = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
  return `${os}-${cpu}`;
}

/**
 * The target triple inside the platform package; the same mapping install.sh
 * uses (musl on Linux, so one build runs on glibc and Alpine alike).
 *
 * @throws {CodexdError} `UNSUPPORTED_PLATFORM` for anything codex is not published for.
 */
export function targetTriple(platform: string): string {
  const triples: Record<string, string> = {
    "linux-x64": "x86_64-unknown-linux-musl",
    "linux-arm64": "aarch64-unknown-linux-musl",
    "darwin-x64": "x86_64-apple-darwin",
    "darwin-arm64": "aarch64-apple-darwin",
  };
  const triple = triples[platform];
  if (triple === undefined) {
    throw new CodexdError("UNSUPPORTED_PLATFORM", `codex is not published for ${platform}`);
  }
  return triple;
}

/**
 * Normalizes a requested version the way install.sh does (`v1.2.3` and
 * `rust-v1.2.3` mean `1.2.3`) and checks it is a version, since it becomes
 * part of a directory name.
 *
 * @throws {CodexdError} `INSTALL_FAILED` for anything else.
 */
export function normalizeVersion(version: string): string {
  const trimmed = version.trim();
  if (trimmed === "" || trimmed === "latest") return "latest";
  const bare = trimmed.replace(/^(rust-)?v/, "");
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(bare)) {
    throw new CodexdError(
      "INSTALL_FAILED",
      `Cannot install codex "${version}": not a version (expected latest or X.Y.Z[-pre])`,
    );
  }
  return bare;
}

/**
 * npm's registry: `NPM_CONFIG_REGISTRY`/`npm_config_registry`, else the last
 * top-level `registry=` line of the user npmrc, else the public registry.
 * Always ends in `/`.
 */
export function resolveRegistry(
  env: Record<string, string | undefined>,
  npmrc = "",
): string {
  let registry = env.NPM_CONFIG_REGISTRY || env.npm_config_registry || "";
  if (!registry) {
    for (const line of npmrc.split(/\r?\n/)) {
      // Scoped (`@scope:registry=`) and auth (`//host/:_authToken=`) lines do not match.
      const match = /^\s*registry\s*=\s*(.*?)\s*$/.exec(line);
      if (match) registry = match[1].replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  registry ||= DEFAULT_REGISTRY;
  return registry.endsWith("/") ? registry : `${registry}/`;
}

/** The user npmrc: `NPM_CONFIG_USERCONFIG`, else `~/.npmrc` (as npm reads it). */
function configuredRegistry(): string {
  const env = Deno.env.toObject();
  const userconfig = env.NPM_CONFIG_USERCONFIG || env.npm_config_userconfig ||
    `${env.HOME ?? ""}/.npmrc`;
  let npmrc = "";
  try {
    npmrc = Deno.readTextFileSync(userconfig);
  } catch {
    // no user config: the environment or the default decides
  }
  return resolveRegistry(env, npmrc);
}

/**
 * Parses an SRI string (`sha512-<base64>`, possibly several space-separated
 * hashes) into the sha512 digest as hex.
 *
 * @throws {CodexdError} `INSTALL_FAILED` when it carries no sha512.
 */
export function parseIntegrity(integrity: string): string {
  const match = /(?:^|\s)sha512-([A-Za-z0-9+/=]+)/.exec(integrity);
  if (!match) {
    throw new CodexdError("INSTALL_FAILED", `Cannot verify download: no sha512 in "${integrity}"`);
  }
  const bytes = atob(match[1]);
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += bytes.charCodeAt(i).toString(16).padStart(2, "0");
  return hex;
}

/**
 * Whether install.sh's mkdir lock may be taken over, by install.sh's own
 * rule: never while its owner lives; else once it is older than
 * {@linkcode MKDIR_LOCK_STALE_MS}, or at once when its age is unknown.
 */
export function mkdirLockIsStale(
  holder: { alive: boolean; startedAtMs?: number },
  nowMs: number,
): boolean {
  if (holder.alive) return false;
  if (holder.startedAtMs === undefined) return true;
  return nowMs - holder.startedAtMs >= MKDIR_LOCK_STALE_MS;
}

function installFailed(what: string, error?: unknown): CodexdError {
  return new CodexdError(
    "INSTALL_FAILED",
    error === undefined
      ? `Cannot install codex: ${what}`
      : `Cannot install codex: ${what}: ${describeError(error)}`,
    "codexd update",
  );
}

interface Dist {
  version: string;
  tarball: string;
  integrity: string;
}

interface PackageMetadata {
  "dist-tags"?: Record<string, string>;
  versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
}

async function resolveDist(
  registry: string,
  version: string,
  platform: string,
  timeoutMs: number,
): Promise<Dist> {
  const url = `${registry}${CODEX_PACKAGE.replace("/", "%2f")}`;
  let metadata: PackageMetadata;
  try {
    const response = await fetch(url, {
      // The abbreviated document is all an installer needs, and much smaller.
      headers: { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    metadata = await response.json();
    if (typeof metadata !== "object" || metadata === null) throw new Error("not a JSON object");
  } catch (error) {
    const why = error instanceof DOMException && error.name === "TimeoutError"
      ? new Error(`no answer within ${timeoutMs} ms`)
      : error;
    throw installFailed(`registry metadata ${url}`, why);
  }
  const tag = metadata["dist-tags"]?.latest;
  if (version === "latest" && !tag) {
    throw installFailed(`no "latest" tag for ${CODEX_PACKAGE} at ${registry}`);
  }
  // The registry's answer becomes a directory name: check it like user input.
  const resolved = version === "latest" ? normalizeVersion(tag ?? "") : version;
  const dist = metadata.versions?.[`${resolved}-${platform}`]?.dist;
  if (!dist?.tarball || !dist.integrity) {
    throw installFailed(`${CODEX_PACKAGE}@${resolved}-${platform} is not in ${registry}`);
  }
  return { version: resolved, tarball: dist.tarball, integrity: dist.integrity };
}

/** Streams the tarball to `file` while hashing; verifies sha512 and abandons stalls. */
async function download(
  dist: Dist,
  file: string,
  stallMs: number,
  onProgress?: (received: number, total?: number) => void,
): Promise<void> {
  const expected = parseIntegrity(dist.integrity);
  const controller = new AbortController();
  let stall = setTimeout(() => controller.abort(), stallMs);
  // Imported here, not at the top: in the one-file bundle a static
  // `node:crypto` import would load Node's compatibility layer on every CLI
  // call (~20 ms), not only on downloads.
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha512");
  let received = 0;
  let total: number | undefined;
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  try {
    const response = await fetch(dist.tarball, { signal: controller.signal });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    total = Number(response.headers.get("content-length")) || undefined;
    for await (const chunk of response.body) {
      clearTimeout(stall);
      stall = setTimeout(() => controller.abort(), stallMs);
      hash.update(chunk);
      let written = 0;
      while (written < chunk.length) written += await out.write(chunk.subarray(written));
      received += chunk.length;
      onProgress?.(received, total);
    }
  } catch (error) {
    const stalled = controller.signal.aborted ? ` stalled for ${stallMs} ms` : "";
    throw installFailed(`download ${dist.tarball}${stalled} after ${received} bytes`, error);
  } finally {
    clearTimeout(stall);
    out.close();
  }
  if (total !== undefined && received !== total) {
    throw installFailed(`download ${dist.tarball} truncated: ${received} of ${total} bytes`);
  }
  const actual = hash.digest("hex");
  if (actual !== expected) {
    throw installFailed(
      `integrity mismatch for ${dist.tarball} (${received} bytes): expected sha512 ${
        expected.slice(0, 16)
      }…, got ${actual.slice(0, 16)}…`,
    );
  }
}

/**
 * The system tar by absolute path: a non-interactive SSH session's PATH may
 * be bare or empty, and codexd must not depend on it.
 */
function systemTar(): string {
  for (const candidate of ["/usr/bin/tar", "/bin/tar", "/usr/local/bin/tar"]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // try the next
    }
  }
  return "tar";
}

interface StepRun {
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a helper to completion within `timeoutMs`; a spawn failure or timeout is an unsuccessful run. */
async function runBounded(path: string, args: string[], timeoutMs: number): Promise<StepRun> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const out = await new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const decoder = new TextDecoder();
    const stderr = decoder.decode(out.stderr);
    return {
      success: out.success && !signal.aborted,
      stdout: decoder.decode(out.stdout),
      stderr: signal.aborted ? `timed out after ${timeoutMs} ms` : stderr,
    };
  } catch (error) {
    const why = signal.aborted ? `timed out after ${timeoutMs} ms` : describeError(error);
    return { success: false, stdout: "", stderr: why };
  }
}

/**
 * Checks a release directory holds a codex that reports `version`. Accepts
 * both layouts under `current`: `bin/codex` (npm package, install.sh
 * "package") and `codex` at the top (install.sh "legacy-platform-npm").
 * Returns what is wrong, or `undefined`.
 */
async function checkRelease(dir: string, version: string): Promise<string | undefined> {
  let bin = join(dir, "bin", "codex");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(bin);
  } catch {
    bin = join(dir, "codex");
    try {
      info = await Deno.stat(bin);
    } catch {
      return `${join(dir, "bin", "codex")} is missing`;
    }
  }
  if (!info.isFile) return `${bin} is not a file`;
  if (((info.mode ?? 0o755) & 0o111) === 0) return `${bin} is not executable`;
  const probe = await runBounded(bin, ["--version"], INSTALL_STEP_TIMEOUT_MS);
  const reported = parseCliVersion(probe.stdout);
  if (!probe.success || reported !== version) {
    const printed = (probe.stdout + probe.stderr).trim().slice(0, 100);
    return `${bin} --version printed "${printed}", expected codex-cli ${version}`;
  }
  return undefined;
}

/** The release name `current` points at (its last path component), if it is a symlink. */
async function currentRelease(paths: DaemonPaths): Promise<string | undefined> {
  try {
    const target = await Deno.readLink(join(paths.standaloneDir, "current"));
    return target.replace(/\/+$/, "").split("/").at(-1);
  } catch {
    return undefined;
  }
}

/** Swaps `current` with the install lock already held. */
async function swapCurrent(
  paths: DaemonPaths,
  releaseName: string,
): Promise<string | undefined> {
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
  return previous;
}

/**
 * Points `packages/standalone/current` at `releases/<releaseName>`
 * atomically, under the install lock, and returns the release name it
 * pointed to before. For rollback: when the latest-channel marker named the
 * previous release, it follows to the new one, so the install stays on the
 * latest channel.
 *
 * @throws {CodexdError} `INSTALL_FAILED` when that release does not exist;
 * `LOCK_TIMEOUT` when another install holds the lock too long.
 */
export async function swapCurrentRelease(
  paths: DaemonPaths,
  releaseName: string,
  options: { lockTimeoutMs?: number } = {},
): Promise<string | undefined> {
  await using _lock = await acquireInstallLock(paths, { timeoutMs: options.lockTimeoutMs });
  const previous = await swapCurrent(paths, releaseName);
  const marker = join(paths.standaloneDir, AUTO_UPDATE_MARKER);
  if (previous !== releaseName && (await readTextIfPresent(marker))?.trim() === previous) {
    await writeFileAtomic(marker, releaseName, { mode: 0o644 });
  }
  return previous;
}

/** A held install lock. */
export interface InstallLock extends AsyncDisposable {
  /** Releases both locks; idempotent. */
  release(): Promise<void>;
}

function lockTimeout(what: string, holder: string, timeoutMs: number): CodexdError {
  return new CodexdError(
    "LOCK_TIMEOUT",
    `Cannot acquire install lock ${what}: ${holder} for ${Math.round(timeoutMs / 1000)} s`,
  );
}

async function readMkdirHolder(dir: string): Promise<{ pid?: number; startedAtMs?: number }> {
  const pidText = await readTextIfPresent(join(dir, "pid")).catch(() => undefined);
  const startedText = await readTextIfPresent(join(dir, "started_at")).catch(() => undefined);
  const pid = Number(pidText?.trim());
  const started = Number(startedText?.trim());
  let startedAtMs = Number.isSafeInteger(started) && started > 0 ? started * 1000 : undefined;
  // install.sh writes pid and started_at just after mkdir: between the two,
  // the directory's own mtime is the start (install.sh itself would treat it
  // as stale at once and could steal a lock that is being taken).
  startedAtMs ??= (await Deno.stat(dir).catch(() => undefined))?.mtime?.getTime();
  return { pid: Number.isSafeInteger(pid) && pid > 1 ? pid : undefined, startedAtMs };
}

async function takeMkdirLock(dir: string, deadline: number, timeoutMs: number): Promise<void> {
  for (;;) {
    try {
      await Deno.mkdir(dir, { mode: 0o755 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const holder = await readMkdirHolder(dir);
      // An unreadable identity counts as alive: never take over on a guess.
      const alive = holder.pid !== undefined && probeProcess(holder.pid).kind !== "dead";
      if (mkdirLockIsStale({ alive, startedAtMs: holder.startedAtMs }, Date.now())) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        continue;
      }
      if (Date.now() >= deadline) {
        throw lockTimeout(dir, `held by pid ${holder.pid ?? "unknown"}`, timeoutMs);
      }
      await systemClock.sleep(LOCK_POLL_MS);
      continue;
    }
    await Deno.writeTextFile(join(dir, "pid"), `${Deno.pid}\n`);
    await Deno.writeTextFile(join(dir, "started_at"), `${Math.floor(Date.now() / 1000)}\n`);
    return;
  }
}

/**
 * Takes the locks install.sh takes, so codexd, install.sh and the reference's
 * updater never install into one CODEX_HOME at once: an exclusive flock on
 * `install.lock` (install.sh's choice wherever `flock`/`lockf` exist), then
 * the `install.lock.d` directory (its fallback elsewhere). Waits at most
 * `timeoutMs`; use with `await using`.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT` naming what holds it.
 */
export async function acquireInstallLock(
  paths: DaemonPaths,
  options: { timeoutMs?: number } = {},
): Promise<InstallLock> {
  const { timeoutMs = INSTALL_LOCK_TIMEOUT_MS } = options;
  const deadline = Date.now() + timeoutMs;
  await Deno.mkdir(paths.standaloneDir, { recursive: true });
  const lockFile = join(paths.standaloneDir, INSTALL_LOCK_FILE);
  const lockDir = join(paths.standaloneDir, INSTALL_LOCK_DIR);
  const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o644 });
  try {
    while (!(await file.tryLock(true))) {
      if (Date.now() >= deadline) {
        throw lockTimeout(lockFile, "another installer holds it", timeoutMs);
      }
      await systemClock.sleep(LOCK_POLL_MS);
    }
    await takeMkdirLock(lockDir, deadline, timeoutMs);
  } catch (error) {
    file.close();
    throw error;
  }
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    try {
      // Only our own directory: a stale-lock takeover may have replaced it.
      if (
        (await readTextIfPresent(join(lockDir, "pid")).catch(() => ""))?.trim() === `${Deno.pid}`
      ) {
        await Deno.remove(lockDir, { recursive: true });
      }
    } finally {
      file.close();
    }
  };
  return { release, [Symbol.asyncDispose]: release };
}

/**
 * Removes what an install killed mid-way left behind: ours and install.sh's
 * staging directories and temp symlinks. Only under the install lock, where
 * no other installer can be using them.
 */
async function removeStaleArtifacts(paths: DaemonPaths): Promise<void> {
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

/** Records the channel as install.sh does: `latest` marks the release, a pin clears the mark. */
async function markChannel(
  paths: DaemonPaths,
  releaseName: string,
  latest: boolean,
): Promise<void> {
  const marker = join(paths.standaloneDir, AUTO_UPDATE_MARKER);
  if (latest) await writeFileAtomic(marker, releaseName, { mode: 0o644 });
  else await removeIfPresent(marker);
}

/** Downloads, extracts and verifies a release into `releases/<name>`; the lock is held. */
async function installRelease(
  paths: DaemonPaths,
  dist: Dist,
  target: string,
  options: { stallMs: number; onProgress?: (received: number, total?: number) => void },
): Promise<void> {
  const releases = join(paths.standaloneDir, "releases");
  const releaseDir = join(releases, `${dist.version}-${target}`);
  const work = await Deno.makeTempDir({ dir: paths.standaloneDir, prefix: ".install-" });
  const staging = join(releases, `.staging-${crypto.randomUUID().slice(0, 8)}`);
  try {
    const tarball = join(work, "codex.tgz");
    await download(dist, tarball, options.stallMs, options.onProgress);
    const extracted = join(work, "x");
    await Deno.mkdir(extracted);
    const untar = await runBounded(
      systemTar(),
      ["-xzf", tarball, "-C", extracted],
      INSTALL_STEP_TIMEOUT_MS,
    );
    if (!untar.success) {
      throw installFailed(`extract ${dist.tarball}: ${untar.stderr.trim().slice(-300)}`);
    }
    const vendor = join(extracted, "package", "vendor", target);
    try {
      await Deno.stat(join(vendor, "bin", "codex"));
    } catch {
      const legacy = await Deno.stat(join(vendor, "codex", "codex")).then(() => true, () => false);
      throw installFailed(
        legacy
          ? `${CODEX_PACKAGE}@${dist.version} uses the older vendor/${target}/codex/codex layout; install a newer version`
          : `the package has no vendor/${target}/bin/codex`,
      );
    }
    await Deno.rename(vendor, staging);
    // install.sh's alias: `current/codex` works for both layouts.
    await Deno.symlink("bin/codex", join(staging, "codex")).catch(() => {});
    const problem = await checkRelease(staging, dist.version);
    if (problem !== undefined) throw installFailed(problem);
    // An incomplete directory of that name is moved aside, not deleted
    // first, so there is never a moment without one if the rename fails.
    const aside = join(releases, `.old-${crypto.randomUUID().slice(0, 8)}`);
    const hadOld = await Deno.rename(releaseDir, aside).then(() => true, () => false);
    try {
      await Deno.rename(staging, releaseDir);
    } catch (error) {
      if (hadOld) await Deno.rename(aside, releaseDir).catch(() => {});
      throw installFailed(`cannot move the release into ${releaseDir}`, error);
    }
    if (hadOld) await Deno.remove(aside, { recursive: true }).catch(() => {});
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
 * import { installFromNpm } from "./install_npm.ts";
 * import { daemonPaths } from "./paths.ts";
 * const result = await installFromNpm(daemonPaths("/home/me/.codex"), { version: "0.169.0" });
 * console.log(result.installed ? `now ${result.version}` : "already current");
 * ```
 */
export async function installFromNpm(
  paths: DaemonPaths,
  options: NpmInstallOptions = {},
): Promise<NpmInstallResult> {
  const {
    version = "latest",
    registry,
    platform = npmPlatform(),
    timeoutMs = METADATA_TIMEOUT_MS,
    stallMs = DOWNLOAD_STALL_MS,
    lockTimeoutMs = INSTALL_LOCK_TIMEOUT_MS,
    onProgress,
  } = options;
  const target = targetTriple(platform);
  const requested = normalizeVersion(version);
  const base = registry === undefined
    ? configuredRegistry()
    : resolveRegistry({ NPM_CONFIG_REGISTRY: registry });
  try {
    return await install(paths, base, requested, platform, target, {
      timeoutMs,
      stallMs,
      lockTimeoutMs,
      onProgress,
    });
  } catch (error) {
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
  options: {
    timeoutMs: number;
    stallMs: number;
    lockTimeoutMs: number;
    onProgress?: (received: number, total?: number) => void;
  },
): Promise<NpmInstallResult> {
  const { timeoutMs, stallMs, lockTimeoutMs, onProgress } = options;
  // Metadata first, outside the lock: a slow registry does not block others.
  const dist = await resolveDist(registry, requested, platform, timeoutMs);
  const name = `${dist.version}-${target}`;
  const releaseDir = join(paths.standaloneDir, "releases", name);

  await using _lock = await acquireInstallLock(paths, { timeoutMs: lockTimeoutMs });
  await removeStaleArtifacts(paths);
  await Deno.mkdir(join(paths.standaloneDir, "releases"), { recursive: true });
  const before = await currentRelease(paths);
  const complete = (await checkRelease(releaseDir, dist.version)) === undefined;
  if (complete && before === name) {
    await markChannel(paths, name, requested === "latest");
    return { version: dist.version, target, releaseDir, installed: false };
  }
  if (!complete) await installRelease(paths, dist, target, { stallMs, onProgress });
  const previous = await swapCurrent(paths, name);
  await markChannel(paths, name, requested === "latest");
  // A broken current release reinstalled in place has nothing to roll back to.
  const previousRelease = previous === name ? undefined : previous;
  return { version: dist.version, target, releaseDir, installed: true, previousRelease };
}
