/**
 * `bootstrap`: turn a host into a running, supervised, self-updating
 * app-server in one command — record settings, install codex first when asked
 * (`--install`), start (or restart onto the recorded flags) the app-server,
 * and start the updater.
 *
 * @module
 */
import { readServerState } from "./server/server_record.ts";
import { CodexdError } from "./errors.ts";
import { binaryFor, createContext, type DaemonOptions, lockDaemon } from "./server/context.ts";
import type { PendingRestart } from "./idle/policy.ts";
import { type LifecycleResult, unmanagedServer } from "./server/result.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { startLocked } from "./server/lifecycle.ts";
import { markWanted, withUpdaterEnsured } from "./updater/ensure.ts";
import { type InstallSource, loadSettings, updateSettings } from "./state/settings.ts";
import { readPidState } from "./process/pid_record.ts";
import type { StageListener } from "./install/step.ts";
import { assertNoReferenceUpdater, ensureUpdater } from "./updater/loop.ts";
import { withRemoteControlView } from "./remote_control/report.ts";
import { type PinView, pinView, readReferenceSelection } from "./state/pin.ts";
import { tryReadBinaryFacts } from "./server/managed_binary.ts";

/** Options for {@linkcode bootstrap}. */
export interface BootstrapOptions extends DaemonOptions {
  /** Launch with (`true`) or without (`false`) `--remote-control`. @default {the saved setting} */
  remoteControl?: boolean;
  /** Install codex first when the managed binary is missing. @default {false} */
  install?: boolean;
  /** Install source, recorded for the updater. @default {"npm"} */
  source?: InstallSource;
  /** Version to install with `install` (or to pin with `pin`). @default {"latest"} */
  version?: string;
  /**
   * Pin `version`: install it when codex is missing or another version is
   * installed, record `updater.pinnedVersion`, and move a running app-server
   * onto it under the turn-safety rule. @default {false}
   */
  pin?: boolean;
  /** npm registry URL. @default {npm's configured registry} */
  registry?: string;
  /** Whether the updater installs updates (it supervises either way). @default {the saved setting; for a new home true, false for an external binary} */
  autoUpdate?: boolean;
  /** Called during downloads. */
  onProgress?: (received: number, total?: number) => void;
  /** Each stage as it begins: the install's, then `starting` (the CLI prints them on stderr). */
  onStage?: StageListener;
  /** Aborting it interrupts the install (`INTERRUPTED`); the CLI aborts it on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** What {@linkcode bootstrap} prints. */
export interface BootstrapResult extends Omit<LifecycleResult, "status"> {
  /** Always `bootstrapped`. */
  status: "bootstrapped";
  /** How the app-server got there: `started`, `alreadyRunning` or `restarted`. */
  appServer: LifecycleResult["status"];
  /** Whether the updater installs updates. */
  autoUpdateEnabled: boolean;
  /** Whether remote control is enabled. */
  remoteControlEnabled: boolean;
  /** Whether this command installed codex (false when a concurrent install did it first). */
  installed: boolean;
  /** The updater's pid. */
  updaterPid: number;
  /** Whether anything changed on this host (settings, install, app-server, updater). */
  changed: boolean;
  /** New launch flags wait for running turns to end: the restart the updater will apply. */
  pendingRestart?: PendingRestart;
  /** The pin in force (codexd's `--pin`, an external binary, or the reference's selection), or `null`. */
  pin: PinView | null;
}

/**
 * Records settings, starts the app-server and the updater.
 *
 * @throws {CodexdError} `BINARY_MISSING` without `install` when codex is not installed.
 * @example
 * ```ts ignore
 * import { bootstrap } from "./bootstrap.ts";
 * const result = await bootstrap({ remoteControl: true, install: true });
 * console.log(result.updaterPid);
 * ```
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<BootstrapResult> {
  const ctx = createContext(options);
  // A server started by hand: no install, no updater beside it (the reference refuses too).
  const { handStartedServer } = await import("./server/hand_started.ts");
  if (await handStartedServer(ctx) !== undefined) {
    throw unmanagedServer(ctx, findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath));
  }
  const { settings: before } = await loadSettings(ctx.paths);
  const external = ctx.options.codexBin ?? before.codexBin;
  let installed = false;
  if (options.pin && (options.version === undefined || external !== undefined)) {
    throw new CodexdError(
      "USAGE",
      external !== undefined
        ? "Cannot pin a version for an external codex binary: codexBin is pinned to that binary already"
        : "Cannot pin without a version: --pin needs --version X",
      external !== undefined
        ? "codexd bootstrap --codex-bin <path> (without --pin)"
        : "codexd bootstrap --install --version X.Y.Z --pin",
    );
  }
  // A bad --version is refused even when nothing needs installing.
  const wanted = (options.install || options.pin) && options.version !== undefined
    ? (await import("./install/registry.ts")).normalizeVersion(options.version)
    : undefined;
  if (external === undefined) {
    let missing = false;
    try {
      Deno.statSync(binaryFor(ctx, before).path);
    } catch {
      missing = true;
    }
    const otherVersion = !missing && options.pin &&
      (await tryReadBinaryFacts(ctx.paths, binaryFor(ctx, before).path))?.version !== wanted;
    if (missing || otherVersion) {
      if (!options.install && !options.pin) {
        throw new CodexdError(
          "BINARY_MISSING",
          `Cannot bootstrap: codex is not installed at ${binaryFor(ctx, before).path}`,
          "codexd bootstrap --install",
        );
      }
      const source = options.source ?? before.updater.source;
      if (source === "install-sh") {
        const { installFromScript } = await import("./install/install_sh.ts");
        installed = (await installFromScript(ctx.paths, {
          release: options.version,
          signal: options.signal,
          onStage: options.onStage,
        })).installed;
      } else {
        const { installFromNpm } = await import("./install/npm.ts");
        // Another bootstrap may have installed it while this one waited for install.lock.
        installed = (await installFromNpm(ctx.paths, {
          version: options.version,
          registry: options.registry,
          onProgress: options.onProgress,
          onStage: options.onStage,
          signal: options.signal,
        })).installed;
      }
    }
  }
  await using _lock = await lockDaemon(ctx, { createHome: true });
  await assertNoReferenceUpdater(ctx);
  const pinnedVersion = options.pin
    ? (await tryReadBinaryFacts(ctx.paths, binaryFor(ctx, before).path))?.version ?? wanted
    : undefined;
  // Only what the command line says changes settings; the rest is kept.
  const saved = await loadSettings(ctx.paths);
  const savedUpdater = saved.raw.updater as Record<string, unknown> | undefined;
  const autoUpdate = options.autoUpdate ??
    (typeof savedUpdater?.autoUpdateEnabled === "boolean" ? undefined : external === undefined);
  const settings = await updateSettings(ctx.paths, {
    ...(options.remoteControl !== undefined ? { remoteControlEnabled: options.remoteControl } : {}),
    ...(ctx.options.codexBin ? { codexBin: ctx.options.codexBin } : {}),
    updater: {
      enabled: true,
      ...(autoUpdate !== undefined ? { autoUpdateEnabled: autoUpdate } : {}),
      ...(options.source ? { source: options.source } : {}),
      ...(pinnedVersion !== undefined ? { pinnedVersion } : {}),
    },
  });
  const settingsChanged = JSON.stringify(settings) !== JSON.stringify(saved.settings);
  await markWanted(ctx, settings);
  const state = await readServerState(ctx.paths);
  const updaterBefore = await readPidState(ctx.paths.updaterPidFile);
  if (state.kind !== "running") options.onStage?.("starting");
  const started = await startLocked(ctx, settings, { fresh: true });
  // A server that was already up gets the recorded remote-control setting
  // live (a restart only for releases that cannot switch); a new one is
  // only reported on. Neither fails the bootstrap.
  const reported = state.kind === "running" && started.status === "alreadyRunning"
    ? await (await import("./remote_control/on_bootstrap.ts")).applyToRunningReported(
      ctx,
      settings,
      state.record,
      started,
    )
    : await withRemoteControlView(ctx, settings, started);
  let outcome = await withUpdaterEnsured(ctx, settings, reported);
  let pendingRestart: PendingRestart | undefined;
  if (
    pinnedVersion !== undefined && outcome.appServerVersion !== null &&
    outcome.appServerVersion !== pinnedVersion
  ) {
    // A server already up on another release moves to the pin when no turn runs.
    const { restartWhenIdle } = await import("./updater/apply_pending.ts");
    const done = await restartWhenIdle(
      ctx,
      settings,
      `pin ${outcome.appServerVersion} -> ${pinnedVersion}`,
    );
    if (done.restarted) outcome = { ...done.result, changed: true };
    else pendingRestart = done.pendingRestart;
  }
  const updater = await ensureUpdater(ctx, settings);
  const { status: appServer, changed: switchedLive, ...rest } = outcome;
  const changed = installed || settingsChanged || appServer !== "alreadyRunning" ||
    switchedLive === true ||
    updaterBefore.kind !== "running" || updaterBefore.record.pid !== updater.pid;
  return {
    status: "bootstrapped",
    appServer,
    ...rest,
    autoUpdateEnabled: settings.updater.autoUpdateEnabled,
    remoteControlEnabled: settings.remoteControlEnabled,
    installed,
    updaterPid: updater.pid,
    changed,
    ...(pendingRestart ? { pendingRestart } : {}),
    pin: pinView(
      settings,
      ctx.options.codexBin ?? settings.codexBin,
      await readReferenceSelection(ctx.paths),
    ),
  };
}
