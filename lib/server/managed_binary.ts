/**
 * The codex binary codexd launches: where it is, whether it can run, its
 * version and which launch flags it supports. `--version` and `--help` are
 * spawned once per binary and cached in `managed-binary.json`, keyed by the
 * binary's real path, size, mtime and inode, so hot commands never spawn it.
 *
 * @module
 */
import {
  pathExists,
  readStateFileSync,
  readTextIfPresent,
  writeFileAtomic,
} from "../state/atomic_file.ts";
import type { BoundedOptions } from "../process/bounded_command.ts";
import { CodexdError, shellQuote } from "../errors.ts";
import type { DaemonPaths } from "../state/paths.ts";

/** Flags the reference passes when the binary knows them. */
export const OPTIONAL_LAUNCH_FLAGS: readonly string[] = [
  "--analytics-default-enabled",
  "--managed-daemon",
];

/** What codexd knows about the binary it launches. */
export interface ManagedBinary {
  /** The path codexd launches (the `current` symlink path, or `codexBin`). */
  path: string;
  /** Whether it is the standalone managed install (the updater may replace it). */
  managed: boolean;
  /**
   * The reference's own package (`packages/app-server-daemon/current/bin/codex`),
   * launched when it is the home's only install; the reference's updater owns it.
   */
  referencePackage?: boolean;
}

/** Cached facts about one binary file. */
export interface BinaryFacts {
  /** `X.Y.Z` from `codex-cli X.Y.Z`. */
  version: string;
  /** The optional launch flags this binary accepts. */
  launchFlags: string[];
}

interface CacheEntry {
  realPath: string;
  size: number;
  mtimeMs: number;
  /**
   * The inode: a file replaced in place by one of the same size and mtime
   * (npm stamps every file of every release 1985-10-26) is another binary.
   */
  ino?: number | null;
  version: string;
  /** Absent in an entry only a report's `--version` run filled. */
  launchFlags?: string[];
}

/** Whether a cache entry describes the file `info` at `realPath`. */
function sameFile(entry: CacheEntry, realPath: string, info: Deno.FileInfo): boolean {
  return entry.realPath === realPath && entry.size === info.size &&
    entry.mtimeMs === (info.mtime?.getTime() ?? 0) && (entry.ino ?? null) === info.ino;
}

/** Whether a cache entry has the facts a launch needs (not only the version). */
function complete(entry: CacheEntry): entry is CacheEntry & BinaryFacts {
  return Array.isArray(entry.launchFlags);
}

/** The candidates for the managed binary, in order of preference (concatenated: a hot path). */
export function managedBinaryCandidates(paths: DaemonPaths): string[] {
  const current = `${paths.standaloneDir}/current`;
  return [`${current}/codex`, `${current}/bin/codex`];
}

/**
 * Picks the binary to launch: `codexBin` when set, else the standalone
 * managed install, else the reference's package when that is the home's only
 * install (a home the reference set up alone).
 */
export function locateBinary(
  paths: DaemonPaths,
  codexBin?: string,
): ManagedBinary {
  if (codexBin !== undefined) return { path: codexBin, managed: false };
  const candidates = managedBinaryCandidates(paths);
  for (const candidate of candidates) {
    try {
      Deno.statSync(candidate);
      return { path: candidate, managed: true };
    } catch {
      // try the next layout
    }
  }
  try {
    Deno.statSync(paths.referencePackageBinary);
    return { path: paths.referencePackageBinary, managed: false, referencePackage: true };
  } catch {
    // no install at all
  }
  return { path: candidates[0], managed: true };
}

/**
 * Checks the binary exists, is a file and is executable — before any spawn.
 *
 * @throws {CodexdError} `BINARY_MISSING` or `BINARY_NOT_EXECUTABLE`.
 */
export function preflightBinary(binary: ManagedBinary): Deno.FileInfo {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(binary.path);
  } catch {
    throw new CodexdError(
      "BINARY_MISSING",
      `Cannot find the codex binary at ${binary.path}`,
      binary.managed ? "codexd bootstrap --install" : "codexd start --codex-bin <path>",
    );
  }
  if (!info.isFile) {
    throw new CodexdError(
      "BINARY_NOT_EXECUTABLE",
      `Cannot launch ${binary.path}: it is not a regular file`,
      binary.managed ? "codexd bootstrap --install" : undefined,
    );
  }
  if (info.mode !== null && (info.mode & 0o111) === 0) {
    throw new CodexdError(
      "BINARY_NOT_EXECUTABLE",
      `Cannot launch ${binary.path}: it is not executable`,
      `chmod +x ${shellQuote(binary.path)}`,
    );
  }
  return info;
}

/** Parses `codex-cli X.Y.Z` output of `codex --version`. */
export function parseCliVersion(output: string): string | undefined {
  const match = /^codex-cli\s+(\S+)/m.exec(output.trim());
  return match?.[1];
}

/** What a short helper command printed. */
export interface CommandRun {
  /** Exit code 0. */
  success: boolean;
  /** Its stdout. */
  stdout: string;
  /** Its stderr, or the spawn error. */
  stderr: string;
  /** It hung past the time limit and was killed. */
  timedOut?: boolean;
}

/**
 * Runs a short command to completion within a time limit (its process group
 * is killed on expiry); a spawn failure is an unsuccessful run, not a throw.
 */
export async function runCommand(
  path: string,
  args: string[],
  options: BoundedOptions = {},
): Promise<CommandRun> {
  // Loaded only on a cache miss: hot commands never spawn the binary.
  const { runBounded } = await import("../process/bounded_command.ts");
  return await runBounded(path, args, options);
}

function unresponsive(path: string, args: string[], timeoutMs: number): CodexdError {
  return new CodexdError(
    "BINARY_UNRESPONSIVE",
    `Cannot read the facts of ${path}: \`${
      args.join(" ")
    }\` did not finish within ${timeoutMs} ms (killed)`,
    `check that ${shellQuote(path)} --version answers, or reinstall: codexd bootstrap --install`,
  );
}

async function probeFacts(path: string, timeoutMs: number): Promise<BinaryFacts> {
  const helpArgs = ["app-server", ...OPTIONAL_LAUNCH_FLAGS, "--help"];
  const [versionRun, allFlags] = await Promise.all([
    runCommand(path, ["--version"], { timeoutMs }),
    runCommand(path, helpArgs, { timeoutMs }),
  ]);
  if (versionRun.timedOut) throw unresponsive(path, ["--version"], timeoutMs);
  if (allFlags.timedOut) throw unresponsive(path, helpArgs, timeoutMs);
  const version = parseCliVersion(versionRun.stdout);
  if (!versionRun.success || version === undefined) {
    throw new CodexdError(
      "BINARY_VERSION_MALFORMED",
      `Cannot read the version of ${path}: \`--version\` printed "${
        printable(versionRun.stdout.trim().slice(0, 120))
      }"`,
      "codexd update",
    );
  }
  if (allFlags.success) return { version, launchFlags: [...OPTIONAL_LAUNCH_FLAGS] };
  // clap rejects unknown flags before `--help`, so test them one by one.
  const accepted = await Promise.all(
    OPTIONAL_LAUNCH_FLAGS.map((flag) =>
      runCommand(path, ["app-server", flag, "--help"], { timeoutMs })
    ),
  );
  const hung = accepted.findIndex((run) => run.timedOut);
  if (hung >= 0) {
    throw unresponsive(path, ["app-server", OPTIONAL_LAUNCH_FLAGS[hung], "--help"], timeoutMs);
  }
  return {
    version,
    launchFlags: OPTIONAL_LAUNCH_FLAGS.filter((_, i) => accepted[i].success),
  };
}

/** Replaces control characters so a message never carries terminal escapes. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

/** Options for {@linkcode readBinaryFacts}. */
export interface BinaryFactsOptions {
  /** Bound on each helper command. @default {commandTimeoutMs()} */
  timeoutMs?: number;
}

/**
 * Returns the binary's version and supported flags, from the cache when the
 * real path, size and mtime match, else by running it once.
 *
 * @throws {CodexdError} `BINARY_VERSION_MALFORMED` when `--version` is not `codex-cli X.Y.Z`.
 */
export async function readBinaryFacts(
  paths: DaemonPaths,
  binaryPath: string,
  options: BinaryFactsOptions = {},
): Promise<BinaryFacts> {
  const realPath = Deno.realPathSync(binaryPath);
  const info = Deno.statSync(realPath);
  const mtimeMs = info.mtime?.getTime() ?? 0;
  const cached = await readCache(paths);
  const hit = cached.find((entry) => sameFile(entry, realPath, info));
  if (hit && complete(hit)) return { version: hit.version, launchFlags: hit.launchFlags };
  const { commandTimeoutMs } = await import("../process/bounded_command.ts");
  const facts = await probeFacts(realPath, options.timeoutMs ?? commandTimeoutMs());
  const entry: CacheEntry = { realPath, size: info.size, mtimeMs, ino: info.ino, ...facts };
  // Keep a few entries: an update flips between the old and the new release.
  const next = [entry, ...cached.filter((e) => e.realPath !== realPath)]
    .slice(0, 4);
  await writeFileAtomic(paths.binaryCacheFile, JSON.stringify(next) + "\n")
    .catch(() => {});
  return facts;
}

/**
 * The binary's facts from the cache only — never runs it. For commands that
 * must answer even when the binary hangs (`status`, `stop`, `version`):
 * `undefined` on a cache miss.
 */
export function cachedBinaryFacts(
  paths: DaemonPaths,
  binaryPath: string,
): BinaryFacts | undefined {
  try {
    const realPath = Deno.realPathSync(binaryPath);
    const info = Deno.statSync(realPath);
    const parsed = JSON.parse(readStateFileSync(paths.binaryCacheFile) ?? "[]");
    if (!Array.isArray(parsed)) return undefined;
    const hit = (parsed as CacheEntry[]).find((entry) => sameFile(entry, realPath, info));
    return hit && complete(hit)
      ? { version: hit.version, launchFlags: hit.launchFlags }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The binary's version for a report (`stop`, `version`, `status`, …): from
 * the cache when warm (never running the binary), else one `--version` run
 * bounded by `timeoutMs` whose answer fills the cache. `undefined` when the
 * binary is missing, hangs or prints no version: a report never fails on it.
 */
export async function reportedVersion(
  paths: DaemonPaths,
  binaryPath: string,
  options: BinaryFactsOptions = {},
): Promise<string | undefined> {
  let realPath: string;
  let info: Deno.FileInfo;
  try {
    realPath = Deno.realPathSync(binaryPath);
    info = Deno.statSync(realPath);
  } catch {
    return undefined;
  }
  const mtimeMs = info.mtime?.getTime() ?? 0;
  const cached = await readCache(paths);
  const hit = cached.find((entry) =>
    entry.realPath === realPath && entry.size === info.size && entry.mtimeMs === mtimeMs
  );
  if (hit) return hit.version;
  const { commandTimeoutMs } = await import("../process/bounded_command.ts");
  const run = await runCommand(realPath, ["--version"], {
    timeoutMs: options.timeoutMs ?? commandTimeoutMs(),
  });
  const version = run.success ? parseCliVersion(run.stdout) : undefined;
  if (version === undefined) return undefined;
  const entry: CacheEntry = { realPath, size: info.size, mtimeMs, version };
  const next = [entry, ...cached.filter((e) => e.realPath !== realPath)].slice(0, 4);
  // Only into an existing state directory: a report creates nothing.
  if (pathExists(paths.stateDir)) {
    await writeFileAtomic(paths.binaryCacheFile, JSON.stringify(next) + "\n").catch(() => {});
  }
  return version;
}

/** Like {@linkcode readBinaryFacts} but `undefined` instead of throwing. */
export async function tryReadBinaryFacts(
  paths: DaemonPaths,
  binaryPath: string,
): Promise<BinaryFacts | undefined> {
  try {
    return await readBinaryFacts(paths, binaryPath);
  } catch {
    return undefined;
  }
}

async function readCache(paths: DaemonPaths): Promise<CacheEntry[]> {
  try {
    const parsed = JSON.parse(
      (await readTextIfPresent(paths.binaryCacheFile)) ?? "[]",
    );
    return Array.isArray(parsed) ? parsed as CacheEntry[] : [];
  } catch {
    return [];
  }
}
