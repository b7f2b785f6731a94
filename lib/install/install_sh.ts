/**
 * Installing codex with the official `install.sh` (the reference's source).
 * The script is fetched and run as `/bin/sh -s` (script on stdin, no TTY)
 * with `CODEX_HOME` and the guard variables the reference sets, so it lays
 * out `packages/standalone/releases/<v>-<target>/`, swaps `current`, writes
 * or clears the latest-channel marker `auto-update-version`, and takes
 * `install.lock` (flock/lockf, else `install.lock.d/`) itself — codexd
 * must not hold that lock while the script runs.
 *
 * Two modes, as in the reference:
 * - `install`: a plain run (bootstrap of a home with nothing installed, or an
 *   explicit install). With `CODEX_RELEASE=latest` it joins the latest channel.
 * - `update`: the updater's guarded run. Only a latest-channel install is
 *   updated (`current` → `releases/X.Y.Z-<target>` named by the marker);
 *   pinned installs are left alone. The script gets
 *   `CODEX_INSTALL_IF_LATEST=1` and `CODEX_UPDATE_FROM_RELEASE=<current>`
 *   and, under its lock, does nothing if the selection changed meanwhile. A
 *   script that does not know the guard is refused, like the reference does.
 *
 * The shell stays in the caller's process group, so stopping the updater's
 * group stops the installer too. Its stdout is discarded (it must never
 * reach codexd's JSON stdout); the last 2 KiB of stderr go into the error.
 *
 * @module
 */
import { CodexdError, describeError } from "../errors.ts";
import { deadlineSignal } from "../expiry.ts";
import { isStableVersion, parseReleaseName } from "../versions.ts";
import { locateBinary, tryReadBinaryFacts } from "../server/managed_binary.ts";
import { type DaemonPaths, dirname, join } from "../state/paths.ts";
import { readCapped, requireHttpUrl } from "./download.ts";
import { AUTO_UPDATE_MARKER, sweepIfIdle } from "./layout.ts";
import { normalizeVersion } from "./registry.ts";
import { interrupted, type StageListener } from "./step.ts";
import { acquireScriptRunLock } from "./lock.ts";
import { runScript } from "./script_run.ts";
import { basename } from "@std/path/posix/basename";

/** Where the official installer lives. */
export const INSTALL_SCRIPT_URL = "https://chatgpt.com/codex/install.sh";
/** Bound on one installer run. */
export const INSTALL_SCRIPT_TIMEOUT_MS = 15 * 60_000;
/** Bound on fetching the script. */
export const SCRIPT_FETCH_TIMEOUT_MS = 60_000;
/** A script larger than this is not install.sh. */
export const SCRIPT_MAX_BYTES = 1 << 20;
/** What a script must mention before it gets a guarded update (the reference's check). */
export const GUARD_MARKER = "CODEX_INSTALL_IF_LATEST";

/** `install`: plain run; `update`: the reference's guarded latest-channel update. */
export type ScriptInstallMode = "install" | "update";

/** Options for {@linkcode installFromScript}. */
export interface ScriptInstallOptions {
  /** @default {$CODEXD_INSTALL_SCRIPT_URL, else INSTALL_SCRIPT_URL} */
  scriptUrl?: string;
  /** Bound on the installer run. @default {INSTALL_SCRIPT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Bound on fetching the script. @default {SCRIPT_FETCH_TIMEOUT_MS} */
  fetchTimeoutMs?: number;
  /** @default {"install"} */
  mode?: ScriptInstallMode;
  /**
   * `CODEX_RELEASE` for an `install` run (`update` always follows latest);
   * checked like the npm source's version. @default {"latest"}
   */
  release?: string;
  /**
   * Aborting it stops the fetch or the script (SIGTERM, then SIGKILL to the
   * shell and its descendants) and throws `INTERRUPTED`; the CLI aborts it on
   * SIGINT/SIGTERM.
   */
  signal?: AbortSignal;
  /** Each stage as it begins (`installing` while install.sh runs). */
  onStage?: StageListener;
}

/** What {@linkcode installFromScript} did. */
export interface ScriptInstallResult {
  /** The managed binary's version afterwards, when readable. */
  version?: string;
  /** Whether the managed binary changed. */
  installed: boolean;
  /** The release `current` pointed at before, when it changed. */
  previousRelease?: string;
  /** Why the installer did not run (`update` mode on a pinned or foreign install). */
  skipped?: string;
}

/**
 * The environment of one installer run: the reference's guard variables, all
 * set explicitly so none leaks in from the caller's environment.
 */
export function installerEnv(
  codexHome: string,
  mode: ScriptInstallMode,
  fromRelease = "",
  release = "latest",
): Record<string, string> {
  const update = mode === "update";
  return {
    CODEX_HOME: codexHome,
    CODEX_NON_INTERACTIVE: "1",
    CODEX_RELEASE: update ? "latest" : release,
    CODEX_INSTALL_IF_LATEST: update ? "1" : "0",
    CODEX_INSTALL_IF_CURRENT: "0",
    CODEX_INSTALL_DEFER_SELECTION: "0",
    // codexd manages packages/standalone, not the newer packages/app-server-daemon.
    CODEX_INSTALL_DAEMON_ONLY: "0",
    CODEX_UPDATE_FROM_RELEASE: update ? fromRelease : "",
  };
}

/** Whether the reference's updater accepts a release name: a stable version and a known target. */
function isStableRelease(name: string): boolean {
  const release = parseReleaseName(name);
  return release !== undefined && isStableVersion(release.version);
}

/**
 * The release `current` points at when the install is on install.sh's latest
 * channel — `current` resolves to `releases/X.Y.Z-<target>` and
 * `auto-update-version` names exactly that release — else `undefined`
 * (pinned with `--release`, a prerelease, a GNU build, or not install.sh's).
 * The reference's updater updates only such installs.
 */
export function latestChannelRelease(paths: DaemonPaths): string | undefined {
  let releases: string;
  let selected: string;
  try {
    releases = Deno.realPathSync(join(paths.standaloneDir, "releases"));
    selected = Deno.realPathSync(join(paths.standaloneDir, "current"));
  } catch {
    return undefined;
  }
  if (dirname(selected) !== releases) return undefined;
  const name = selected.slice(releases.length + 1);
  // GNU builds in packages/standalone come from other installers (the reference's rule).
  if (!isStableRelease(name) || name.endsWith("-gnu")) return undefined;
  try {
    // Exact comparison, as the reference does: install.sh writes it without a newline.
    const marker = Deno.readTextFileSync(join(paths.standaloneDir, AUTO_UPDATE_MARKER));
    return marker === name ? name : undefined;
  } catch {
    return undefined;
  }
}

function failed(message: string): CodexdError {
  return new CodexdError("INSTALL_FAILED", message, "codexd update --source npm");
}

async function fetchScript(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  // Cancelled in `finally`: no timer outlives the fetch (a library caller's script exits at once).
  const deadline = deadlineSignal(timeoutMs, signal);
  try {
    const response = await fetch(url, { signal: deadline.signal });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    // The deadline covers the body too; the cap keeps an endless one out of memory.
    const script = await readCapped(response, SCRIPT_MAX_BYTES);
    if (script.length === 0) throw new Error("an empty body is not an installer script");
    return script;
  } catch (error) {
    if (signal?.aborted) throw interrupted(signal);
    const why = deadline.timedOut() ? `no answer within ${timeoutMs} ms` : describeError(error);
    throw failed(`Cannot fetch the installer ${url}: ${why}`);
  } finally {
    deadline.cancel();
  }
}

function currentReleaseName(paths: DaemonPaths): string | undefined {
  try {
    return basename(Deno.realPathSync(join(paths.standaloneDir, "current")));
  } catch {
    return undefined;
  }
}

/**
 * Runs the official installer for this CODEX_HOME.
 *
 * @throws {CodexdError} `INSTALL_FAILED` with the script's stderr tail (the
 * script's own all-or-nothing install leaves `current` as it was), or for a
 * `release` that is not a version; `INTERRUPTED` when `signal` aborts.
 * @example A guarded update, as the updater runs it
 * ```ts ignore
 * import { installFromScript } from "./install_sh.ts";
 * import { daemonPaths } from "../state/paths.ts";
 * const result = await installFromScript(daemonPaths("/home/me/.codex"), { mode: "update" });
 * if (result.skipped) console.log(`left alone: ${result.skipped}`);
 * ```
 */
export async function installFromScript(
  paths: DaemonPaths,
  options: ScriptInstallOptions = {},
): Promise<ScriptInstallResult> {
  const {
    scriptUrl = Deno.env.get("CODEXD_INSTALL_SCRIPT_URL") || INSTALL_SCRIPT_URL,
    timeoutMs = INSTALL_SCRIPT_TIMEOUT_MS,
    fetchTimeoutMs = SCRIPT_FETCH_TIMEOUT_MS,
    mode = "install",
    signal,
  } = options;
  const release = normalizeVersion(options.release ?? "latest");
  requireHttpUrl(scriptUrl, "installer URL");
  await sweepIfIdle(paths);
  // Held from "what is installed" to "what is installed now": a parallel run
  // of codexd reads its "before" after this one's "after".
  await using _serial = await acquireScriptRunLock(paths, { timeoutMs, signal });
  const binary = locateBinary(paths).path;
  const before = await tryReadBinaryFacts(paths, binary);
  const beforeRelease = currentReleaseName(paths);
  let fromRelease = "";
  if (mode === "update") {
    const selected = latestChannelRelease(paths);
    if (selected === undefined) {
      return {
        version: before?.version,
        installed: false,
        skipped: "not a latest-channel install.sh install (pinned, or installed otherwise)",
      };
    }
    fromRelease = selected;
  }
  options.onStage?.("installing", "install.sh");
  const script = await fetchScript(scriptUrl, fetchTimeoutMs, signal);
  if (mode === "update") {
    if (!new TextDecoder().decode(script).includes(GUARD_MARKER)) {
      throw failed(
        `Cannot update codex: the installer ${scriptUrl} does not support guarded updates (no ${GUARD_MARKER})`,
      );
    }
    // The selection may have changed while the script downloaded.
    if (latestChannelRelease(paths) !== fromRelease) {
      return { version: before?.version, installed: false, skipped: "the selection changed" };
    }
  }
  await runScript(
    script,
    installerEnv(paths.codexHome, mode, fromRelease, release),
    paths,
    scriptUrl,
    timeoutMs,
    signal,
  );
  const after = await tryReadBinaryFacts(paths, locateBinary(paths).path);
  const afterRelease = currentReleaseName(paths);
  const changed = afterRelease !== beforeRelease;
  return {
    version: after?.version,
    installed: changed || after?.version !== before?.version,
    ...(changed && beforeRelease !== undefined ? { previousRelease: beforeRelease } : {}),
  };
}
