/**
 * Installing codex from the npm registry into the standalone layout:
 * `@openai/codex@<v>-<platform>` is downloaded, its sha512 `dist.integrity`
 * verified while streaming, `vendor/<target>/` extracted into a staging
 * directory, checked (`bin/codex --version`), renamed to
 * `packages/standalone/releases/<v>-<target>/` and `current` swapped
 * atomically (a new symlink renamed over the old one). The whole install holds
 * `packages/standalone/install.lock`, the lock install.sh uses. Any failure
 * leaves everything as it was: a running app-server keeps serving.
 *
 * Off the hot path (only `update`, `bootstrap --install` and the updater load
 * it), so it may use `node:crypto` for streaming hashing.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CodexdError, describeError } from "./errors.ts";
import { parseCliVersion, runCommand } from "./managed_binary.ts";
import { type DaemonPaths, join } from "./paths.ts";

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

/** Options for {@linkcode installFromNpm}. */
export interface NpmInstallOptions {
  /** `latest` or an exact version such as `0.169.0`. @default {"latest"} */
  version?: string;
  /** Registry base URL. @default {npm's configured registry} */
  registry?: string;
  /** npm platform suffix such as `linux-x64`. @default {this machine's} */
  platform?: string;
  /** Bound on the metadata request. @default {METADATA_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Stall bound of the tarball download. @default {DOWNLOAD_STALL_MS} */
  stallMs?: number;
  /** Download progress callback. */
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

/** This machine's npm platform suffix. */
export function npmPlatform(
  os: string = Deno.build.os,
  arch: string = Deno.build.arch,
): string {
  const cpu = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
  return `${os}-${cpu}`;
}

/** The target triple inside the platform package. */
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
 * npm's registry: `NPM_CONFIG_REGISTRY`/`npm_config_registry`, else the last
 * top-level `registry=` line of `~/.npmrc`, else the public registry.
 */
export function resolveRegistry(
  env: Record<string, string | undefined>,
  npmrc = "",
): string {
  let registry = env.NPM_CONFIG_REGISTRY ?? env.npm_config_registry;
  if (!registry) {
    for (const line of npmrc.split("\n")) {
      const match = /^\s*registry\s*=\s*(\S+)\s*$/.exec(line);
      if (match) registry = match[1];
    }
  }
  registry ||= DEFAULT_REGISTRY;
  return registry.endsWith("/") ? registry : `${registry}/`;
}

function configuredRegistry(): string {
  let npmrc = "";
  try {
    npmrc = Deno.readTextFileSync(`${Deno.env.get("HOME")}/.npmrc`);
  } catch {
    // no user config
  }
  return resolveRegistry(Deno.env.toObject(), npmrc);
}

/** Parses `sha512-<base64>` into the hex digest. */
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

async function resolveDist(
  registry: string,
  version: string,
  platform: string,
  timeoutMs: number,
): Promise<Dist> {
  const url = `${registry}${CODEX_PACKAGE.replace("/", "%2f")}`;
  let metadata: {
    "dist-tags"?: Record<string, string>;
    versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
  };
  try {
    const response = await fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    metadata = await response.json();
  } catch (error) {
    throw installFailed(`registry metadata ${url}`, error);
  }
  const resolved = version === "latest" ? metadata["dist-tags"]?.latest : version;
  if (!resolved) throw installFailed(`no "latest" tag for ${CODEX_PACKAGE} at ${registry}`);
  const dist = metadata.versions?.[`${resolved}-${platform}`]?.dist;
  if (!dist?.tarball || !dist.integrity) {
    throw installFailed(`${CODEX_PACKAGE}@${resolved}-${platform} is not in ${registry}`);
  }
  return { version: resolved, tarball: dist.tarball, integrity: dist.integrity };
}

/** Streams `url` to `file` while hashing; verifies sha512 and aborts on stalls. */
async function download(
  dist: Dist,
  file: string,
  stallMs: number,
  onProgress?: (received: number, total?: number) => void,
): Promise<void> {
  const expected = parseIntegrity(dist.integrity);
  const controller = new AbortController();
  let stall = setTimeout(() => controller.abort(), stallMs);
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha512");
  let received = 0;
  try {
    const response = await fetch(dist.tarball, { signal: controller.signal });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const total = Number(response.headers.get("content-length")) || undefined;
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
    throw installFailed(
      `download ${dist.tarball}${controller.signal.aborted ? ` stalled for ${stallMs} ms` : ""}`,
      error,
    );
  } finally {
    clearTimeout(stall);
    out.close();
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

/** Checks a release directory holds a codex that reports `version`. */
async function verifyRelease(dir: string, version: string): Promise<string | undefined> {
  const bin = join(dir, "bin", "codex");
  try {
    const info = await Deno.stat(bin);
    if (!info.isFile || ((info.mode ?? 0o755) & 0o111) === 0) return `${bin} is not executable`;
  } catch {
    return `${bin} is missing`;
  }
  const probe = await runCommand(bin, ["--version"]);
  const reported = parseCliVersion(probe.stdout);
  if (!probe.success || reported !== version) {
    const printed = (probe.stdout + probe.stderr).trim().slice(0, 100);
    return `${bin} --version printed "${printed}", expected ${version}`;
  }
  return undefined;
}

async function currentTarget(paths: DaemonPaths): Promise<string | undefined> {
  try {
    const target = await Deno.readLink(join(paths.standaloneDir, "current"));
    return target.replace(/\/+$/, "").split("/").at(-1);
  } catch {
    return undefined;
  }
}

/**
 * Points `packages/standalone/current` at `releases/<releaseName>` atomically.
 * Returns the release name it pointed to before.
 */
export async function swapCurrentRelease(
  paths: DaemonPaths,
  releaseName: string,
): Promise<string | undefined> {
  const previous = await currentTarget(paths);
  const temp = join(paths.standaloneDir, `.current-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.symlink(`releases/${releaseName}`, temp);
  try {
    await Deno.rename(temp, join(paths.standaloneDir, "current"));
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return previous;
}

async function withInstallLock<T>(paths: DaemonPaths, body: () => Promise<T>): Promise<T> {
  const lockFile = join(paths.standaloneDir, "install.lock");
  const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o644 });
  try {
    const deadline = Date.now() + INSTALL_LOCK_TIMEOUT_MS;
    while (!(await file.tryLock(true))) {
      if (Date.now() >= deadline) {
        throw new CodexdError(
          "LOCK_TIMEOUT",
          `Cannot acquire install lock ${lockFile}: another install has run for ${
            INSTALL_LOCK_TIMEOUT_MS / 60_000
          } min`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return await body();
  } finally {
    file.close();
  }
}

/**
 * Installs a codex release from npm and makes it `current`.
 *
 * @throws {CodexdError} `INSTALL_FAILED` with the reason; nothing is changed.
 * @example
 * ```ts ignore
 * import { installFromNpm } from "./install_npm.ts";
 * import { daemonPaths } from "./paths.ts";
 * const result = await installFromNpm(daemonPaths("/home/me/.codex"), { version: "0.169.0" });
 * ```
 */
export async function installFromNpm(
  paths: DaemonPaths,
  options: NpmInstallOptions = {},
): Promise<NpmInstallResult> {
  const {
    version = "latest",
    registry = configuredRegistry(),
    platform = npmPlatform(),
    timeoutMs = METADATA_TIMEOUT_MS,
    stallMs = DOWNLOAD_STALL_MS,
    onProgress,
  } = options;
  const target = targetTriple(platform);
  const releases = join(paths.standaloneDir, "releases");
  await Deno.mkdir(releases, { recursive: true });
  return await withInstallLock(paths, async () => {
    const dist = await resolveDist(registry, version, platform, timeoutMs);
    const name = `${dist.version}-${target}`;
    const releaseDir = join(releases, name);
    const before = await currentTarget(paths);
    if ((await verifyRelease(releaseDir, dist.version)) === undefined) {
      if (before === name) {
        return { version: dist.version, target, releaseDir, installed: false };
      }
      const previousRelease = await swapCurrentRelease(paths, name);
      return { version: dist.version, target, releaseDir, installed: true, previousRelease };
    }
    const work = await Deno.makeTempDir({ dir: paths.standaloneDir, prefix: ".install-" });
    try {
      const tarball = join(work, "codex.tgz");
      await download(dist, tarball, stallMs, onProgress);
      await Deno.mkdir(join(work, "x"));
      const untar = await runCommand(systemTar(), ["-xzf", tarball, "-C", join(work, "x")]);
      if (!untar.success) {
        throw installFailed(`extract ${dist.tarball}: ${untar.stderr.trim().slice(-300)}`);
      }
      const staging = join(releases, `.staging-${crypto.randomUUID().slice(0, 8)}`);
      try {
        await Deno.rename(join(work, "x", "package", "vendor", target), staging);
      } catch (error) {
        throw installFailed(`the package has no vendor/${target}`, error);
      }
      try {
        await Deno.symlink("bin/codex", join(staging, "codex")).catch(() => {});
        const problem = await verifyRelease(staging, dist.version);
        if (problem !== undefined) throw installFailed(problem);
        await Deno.remove(releaseDir, { recursive: true }).catch(() => {});
        await Deno.rename(staging, releaseDir);
      } catch (error) {
        await Deno.remove(staging, { recursive: true }).catch(() => {});
        throw error;
      }
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
    const previousRelease = await swapCurrentRelease(paths, name);
    return { version: dist.version, target, releaseDir, installed: true, previousRelease };
  });
}
