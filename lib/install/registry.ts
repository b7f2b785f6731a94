/**
 * What the npm registry says about codex: which registry npm is configured
 * with, this machine's platform package and target triple, version strings
 * (user input and registry answers alike, since they become directory
 * names), and the `dist` of one platform version. Reads the user npmrc.
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import { isStrictVersion } from "../versions.ts";
import { deadlineSignal } from "../expiry.ts";
import { readCapped } from "./download.ts";
import { installFailed } from "./step.ts";
import { CODEX_PACKAGE } from "./tarball.ts";

/** The public npm registry, used when npm is not configured otherwise. */
export const DEFAULT_REGISTRY = "https://registry.npmjs.org/";
/** Bound on the metadata request. */
export const METADATA_TIMEOUT_MS = 30_000;
/** Most bytes of registry metadata read (the abbreviated codex document is a few MB). */
export const METADATA_MAX_BYTES = 64 * 1024 * 1024;

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
  // Strict semver (@std/semver): numbers without leading zeros, dot-separated
  // prerelease identifiers; no build metadata, no path characters, bounded length.
  if (!isStrictVersion(bare)) {
    throw new CodexdError(
      "INSTALL_FAILED",
      `Cannot install codex ${
        JSON.stringify(version.slice(0, 80))
      }: not a version (expected latest or X.Y.Z[-prerelease])`,
      "codexd update --version X.Y.Z",
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
export function configuredRegistry(): string {
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

/** One platform version's tarball, as the registry describes it. */
export interface Dist {
  /** The resolved version (never `latest`). */
  version: string;
  /** Tarball URL. */
  tarball: string;
  /** SRI integrity. */
  integrity: string;
}

interface PackageMetadata {
  "dist-tags"?: Record<string, string>;
  versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
}

/**
 * Asks the registry for `@openai/codex` and returns the `dist` of
 * `<version>-<platform>` (`latest` resolved through its dist-tag).
 *
 * @throws {CodexdError} `INSTALL_FAILED` when the registry fails or lacks it.
 */
export async function resolveDist(
  registry: string,
  version: string,
  platform: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Dist> {
  const url = `${registry}${CODEX_PACKAGE.replace("/", "%2f")}`;
  let metadata: PackageMetadata;
  // Cancelled in `finally`: no timer outlives the fetch (a library caller's script exits at once).
  const deadline = deadlineSignal(timeoutMs, signal);
  try {
    const response = await fetch(url, {
      // The abbreviated document is all an installer needs, and much smaller.
      headers: { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8" },
      signal: deadline.signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    metadata = JSON.parse(new TextDecoder().decode(await readCapped(response, METADATA_MAX_BYTES)));
    if (typeof metadata !== "object" || metadata === null) throw new Error("not a JSON object");
  } catch (error) {
    const why = deadline.timedOut() ? new Error(`no answer within ${timeoutMs} ms`) : error;
    throw installFailed(`registry metadata ${url}`, why);
  } finally {
    deadline.cancel();
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
