/**
 * The steps an update is made of, shared by the user's `codexd update`
 * (`update.ts` at the root of `lib/`) and the updater loop's pass
 * (`update --updater-pass`, `pass.ts`): begin (home, settings, binary) →
 * can this home be updated at all → sweep what killed installs left →
 * which release is wanted (pins) → install it → its outcome → stay off a
 * release that failed before → under `daemon.lock`: pin flags, restart or
 * defer, prune ({@linkcode finishUnderLock}).
 *
 * The two callers differ only around the steps: the pass honours
 * `autoUpdateEnabled`, installs a codexd pin, only try-locks (a busy lock
 * defers the restart to the next pass) and records every outcome; the
 * command waits for the lock and records nothing.
 *
 * The download runs outside `daemon.lock` (it can take minutes; the install
 * has its own `install.lock`); the restart decision is made under it. A new
 * release that fails to become ready is rolled back: `current` goes back to
 * the previous release, which is started again, and that version is skipped
 * by later passes (`release_switch.ts`).
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import {
  binaryFor,
  type DaemonContext,
  type DaemonOptions,
  probe,
  requireHome,
} from "../server/context.ts";
import {
  type ManagedBinary,
  readBinaryFacts,
  tryReadBinaryFacts,
} from "../server/managed_binary.ts";
import { type DaemonSettings, type InstallSource, loadSettings } from "../state/settings.ts";
import { decidePinnedPass, type PinView, pinView, readReferenceSelection } from "../state/pin.ts";
import type { StageListener } from "../install/step.ts";
import { CODEXD_VERSION } from "../version.ts";
import { sameVersion } from "../versions.ts";
import { applyPinFlags, pinnedStatus } from "./pin_flags.ts";
import { pruneReleases, restartIfVersionDiffers } from "./release_switch.ts";
import { readUpdaterState } from "./state.ts";
import { updateMessage, type UpdateResult } from "./update_report.ts";

/** Options of `update` and of the updater's pass. */
export interface UpdateOptions extends DaemonOptions {
  /** Install source. @default {settings.updater.source} */
  source?: InstallSource;
  /** Version to install. @default {"latest", or the pinned version on an updater pass} */
  version?: string;
  /** Record `version` as the pin (`updater.pinnedVersion`): later passes install and run exactly it. @default {false} */
  pin?: boolean;
  /** Drop codexd's pin and follow the latest again. @default {false} */
  unpin?: boolean;
  /** npm registry URL (npm source). @default {npm's configured registry} */
  registry?: string;
  /** Called during downloads (the CLI shows a progress bar on a terminal). */
  onProgress?: (received: number, total?: number) => void;
  /** Each stage as it begins: the install's, then `restarting` (the CLI prints them on stderr). */
  onStage?: StageListener;
  /** Aborting it interrupts the install step (`INTERRUPTED`); the CLI aborts it on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Restart at once even when turns are running (they drain for the grace). @default {false} */
  now?: boolean;
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/** What one update knows once begun. */
export interface UpdateRun {
  /** The command's context. */
  ctx: DaemonContext;
  /** `settings.json` as the update began. */
  settings: DaemonSettings;
  /** The binary the app-server is launched from. */
  binary: ManagedBinary;
  /** The fields every result carries. */
  base: Pick<UpdateResult, "previousVersion" | "managedCodexPath" | "socketPath" | "codexdVersion">;
}

/** What the install step did. */
export interface Installed {
  /** A new release was installed (and `current` moved to it). */
  installed: boolean;
  /** The release `current` pointed at before, when it moved (npm source). */
  previousRelease?: string;
}

/** The release an update wants: an exact version, the latest (`undefined`), or none (`report`). */
export type WantedRelease =
  & { pin: PinView | null }
  & ({ version: string | undefined; report?: undefined } | { report: string });

/** @throws {CodexdError} `USAGE` for `--pin` without `--version`, or `--pin` with `--unpin`. */
export function checkPinFlags(options: UpdateOptions): void {
  if (options.pin && options.version === undefined) {
    throw new CodexdError(
      "USAGE",
      "Cannot pin without a version: --pin needs --version X",
      "codexd update --version X.Y.Z --pin",
    );
  }
  if (options.pin && options.unpin) {
    throw new CodexdError("USAGE", "Cannot both --pin and --unpin", "codexd update --unpin");
  }
}

/** Reads what the update starts from; a mistyped home must not grow a release tree. */
export async function beginUpdate(ctx: DaemonContext): Promise<UpdateRun> {
  // Only bootstrap creates a home.
  requireHome(ctx);
  const { settings } = await loadSettings(ctx.paths);
  const binary = binaryFor(ctx, settings);
  const previousFacts = await tryReadBinaryFacts(ctx.paths, binary.path);
  return {
    ctx,
    settings,
    binary,
    base: {
      previousVersion: previousFacts?.version ?? null,
      managedCodexPath: binary.path,
      socketPath: ctx.paths.socketPath,
      codexdVersion: CODEXD_VERSION,
    },
  };
}

/** The result of an update that changed nothing, for `reason`. */
export function unchanged(
  run: UpdateRun,
  reason: string,
  pin: PinView | null = null,
): UpdateResult {
  return {
    status: pin ? "pinned" : "noUpdate",
    reason,
    ...run.base,
    version: run.base.previousVersion,
    installed: false,
    restarted: false,
    pin,
  };
}

/**
 * Why this home's codex cannot be updated by codexd, as a result: a server
 * started by hand (`unsupported`, as the reference answers), the
 * reference's package (its own updater updates it), or an external binary.
 */
export async function notUpdatable(run: UpdateRun): Promise<UpdateResult | undefined> {
  const { handStartedServer } = await import("../server/hand_started.ts");
  const unmanaged = await handStartedServer(run.ctx);
  if (unmanaged !== undefined) {
    return {
      ...unchanged(run, "unmanagedServer"),
      status: "unsupported",
      appServerVersion: unmanaged.appServerVersion,
    };
  }
  if (run.binary.referencePackage) return unchanged(run, "referencePackage");
  if (!run.binary.managed) {
    return unchanged(run, "externalBinary", { by: "codexBin", path: run.binary.path });
  }
  return undefined;
}

/** Every update removes what killed installs left, even when it installs nothing. */
export async function sweepLeftovers(run: UpdateRun): Promise<void> {
  await (await import("../install/layout.ts")).sweepIfIdle(run.ctx.paths);
}

/** The release wanted under the pin in force (see `decidePinnedPass`). */
export async function wantedRelease(
  run: UpdateRun,
  options: UpdateOptions,
  by: { updaterPass: boolean },
): Promise<WantedRelease> {
  const pin = pinView(run.settings, undefined, await readReferenceSelection(run.ctx.paths));
  const decision = decidePinnedPass({
    pin,
    version: options.version,
    unpin: options.unpin,
    updaterPass: by.updaterPass,
  });
  if (decision.kind === "report") return { pin, report: decision.reason };
  return { pin, version: decision.version === "latest" ? undefined : decision.version };
}

/** Installs `version` (the latest when `undefined`) from the configured source. */
export async function installRelease(
  run: UpdateRun,
  options: UpdateOptions,
  version: string | undefined,
): Promise<Installed> {
  const source = options.source ?? run.settings.updater.source;
  if (source === "install-sh") {
    const { installFromScript } = await import("../install/install_sh.ts");
    const result = await installFromScript(run.ctx.paths, {
      release: version,
      signal: options.signal,
      onStage: options.onStage,
    });
    return { installed: result.installed };
  }
  const { installFromNpm } = await import("../install/npm.ts");
  const result = await installFromNpm(run.ctx.paths, {
    version,
    registry: options.registry,
    onProgress: options.onProgress,
    onStage: options.onStage,
    signal: options.signal,
  });
  return { installed: result.installed, previousRelease: result.previousRelease };
}

/** The outcome of the install before any restart: the managed binary's version now. */
export async function installedOutcome(
  run: UpdateRun,
  installed: Installed,
  pin: PinView | null,
): Promise<UpdateResult & { version: string }> {
  const facts = await readBinaryFacts(run.ctx.paths, run.binary.path);
  return {
    status: installed.installed ? "updated" : "noUpdate",
    ...run.base,
    version: facts.version,
    installed: installed.installed,
    restarted: false,
    pin,
  };
}

/**
 * A newly installed release that already failed to become ready once (the
 * updater state's `skipVersion`) is left: `current` goes back to the
 * previous release and the update reports `skipped`. An explicit
 * `--version` installs it anyway.
 */
export async function skipFailedRelease(
  run: UpdateRun,
  installed: Installed,
  outcome: UpdateResult,
  options: UpdateOptions,
): Promise<UpdateResult | undefined> {
  const { skipVersion } = await readUpdaterState(run.ctx.paths);
  if (
    !installed.installed || installed.previousRelease === undefined ||
    skipVersion === undefined || !sameVersion(outcome.version, skipVersion) || options.version
  ) {
    return undefined;
  }
  const { switchCurrent } = await import("../install/layout.ts");
  await switchCurrent(run.ctx.paths, installed.previousRelease);
  return unchanged(run, `skipped ${skipVersion}: it failed before`, outcome.pin ?? null);
}

/**
 * Under `daemon.lock`: records the pin flags, moves the app-server onto the
 * installed release when its version differs (or leaves that restart
 * pending while turns run), and prunes old releases after an install.
 */
export async function finishUnderLock(
  run: UpdateRun,
  outcome: UpdateResult & { version: string },
  installed: Installed,
  options: UpdateOptions,
): Promise<UpdateResult> {
  const pinned = await applyPinFlags(run.ctx, run.settings, outcome.version, options);
  const result = await restartIfVersionDiffers(
    run.ctx,
    { ...outcome, ...pinned },
    installed.previousRelease,
    options,
  );
  if (installed.installed) await pruneReleases(run.ctx, installed.previousRelease);
  return pinnedStatus(result);
}

/** Adds the reference-style fields: both versions, a message, `changed`. */
export async function withVersions(
  ctx: DaemonContext,
  result: UpdateResult,
): Promise<UpdateResult> {
  const runningVersion = result.appServerVersion ??
    (await probe(ctx))?.appServerVersion ?? null;
  return {
    ...result,
    installedVersion: result.version,
    runningVersion,
    message: updateMessage(result, runningVersion),
    changed: result.installed || result.restarted || result.pinChanged === true,
  };
}
