/**
 * `enable-autostart` and `disable-autostart`: make one CODEX_HOME's
 * app-server come back after a reboot, with nobody logged in.
 *
 * Linux: writes the systemd user unit (`autostart/unit.ts`), `daemon-reload`,
 * `enable`, asks logind to linger for the user, and starts the unit now so
 * the running app-server and its supervisor are the unit's from here on.
 * Neither command ever restarts or stops an app-server outside the
 * turn-safety gate: newly enabled remote control reaches a running server
 * live or by a gated restart, and `disable-autostart` hands the running
 * server over from the unit without stopping it (`autostart/handover.ts`).
 * `enable-autostart` turns on codexd's supervision (the updater loop) when
 * `bootstrap` has not — without auto-updates — because the unit runs it and
 * a user's `codexd stop` is only remembered (`down`) under supervision.
 * macOS: writes and loads a LaunchAgent (untested on real macOS).
 *
 * Files: the unit (`~/.config/systemd/user/codexd-….service`) or the plist
 * (`~/Library/LaunchAgents/dev.codexd.….plist`), `settings.json`.
 *
 * @module
 */
import {
  pathExists,
  readTextIfPresent,
  removeIfPresent,
  writeFileAtomic,
} from "./state/atomic_file.ts";
import { CodexdError, describeError } from "./errors.ts";
import type { PendingRestart } from "./idle/policy.ts";
import { clearHandover, writeHandover } from "./autostart/handover.ts";
import { createContext, type DaemonOptions, requireHome } from "./server/context.ts";
import { withLockedHome } from "./server/locked_home.ts";
import type { LifecycleResult } from "./server/result.ts";
import { dirname } from "./state/paths.ts";
import { updateSettings } from "./state/settings.ts";
import { status } from "./status.ts";
import { helperError } from "./autostart/exec.ts";
import {
  type AutostartFiles,
  autostartFiles,
  type AutostartInfo,
  type AutostartLocations,
  currentUser,
  readAutostart,
} from "./autostart/read.ts";
import {
  connectUserManager,
  ensureLinger,
  type SystemdOptions,
  type UserManager,
} from "./autostart/systemd.ts";
import {
  launchdLabel,
  renderLaunchdPlist,
  renderSystemdUnit,
  type ServiceSpec,
  unitFileName,
} from "./autostart/unit.ts";

/** Options of {@linkcode enableAutostart} and {@linkcode disableAutostart}. */
export interface AutostartOptions extends DaemonOptions {
  /** Persist remote control on before enabling. @default {keep the setting} */
  remoteControl?: boolean;
  /** Where the unit and linger files are (tests). */
  locations?: AutostartLocations;
  /** Bounds of systemctl/loginctl, or facts to use (tests). */
  systemd?: SystemdOptions;
  /** The codexd module the unit pins. @default {this copy of codexd} */
  moduleUrl?: string;
}

/** What `enable-autostart` and `disable-autostart` print. */
export interface AutostartResult extends Omit<LifecycleResult, "status"> {
  /** What happened. */
  status: "enabled" | "alreadyEnabled" | "disabled" | "alreadyDisabled";
  /** The autostart state afterwards (`null` once disabled). */
  autostart: AutostartInfo | null;
  /** Whether the app-server answers now. */
  appServerRunning: boolean;
  /** Whether remote control is enabled in settings. */
  remoteControlEnabled: boolean;
  /** The command that makes autostart complete (`linger: false`: enable lingering). */
  hint?: string;
  /** A restart that applies newly enabled remote control once running turns end. */
  pendingRestart?: PendingRestart;
}

/**
 * The pinned codexd module a unit runs: the local `mod.ts` path when codexd
 * runs from files, else the (versioned) URL, which deno has cached by now —
 * at boot there may be no network.
 */
export function autostartEntry(
  moduleUrl: string = import.meta.url,
  mainModule: string = Deno.mainModule,
): string {
  // Inside the one-file bundle this code's own URL is the running entry.
  const mod = moduleUrl === mainModule ? new URL(moduleUrl) : new URL("../mod.ts", moduleUrl);
  return mod.protocol === "file:" ? decodeURIComponent(mod.pathname) : mod.href;
}

async function describe(
  options: AutostartOptions,
  outcome: AutostartResult["status"],
  warnings: string[],
): Promise<AutostartResult> {
  const now = await status(options);
  return {
    status: outcome,
    autostart: readAutostart(createContext(options).paths.codexHome, options.locations),
    backend: now.backend,
    pid: now.pid,
    managed: now.managed,
    managedCodexPath: now.managedCodexPath,
    managedCodexExists: now.managedCodexExists,
    managedCodexVersion: now.managedCodexVersion,
    socketPath: now.socketPath,
    cliVersion: now.cliVersion,
    appServerVersion: now.appServerVersion,
    codexdVersion: now.codexdVersion,
    appServerRunning: now.status === "running",
    remoteControlEnabled: now.remoteControlEnabled,
    ...(warnings.length ? { warnings } : {}),
  };
}

function filesFor(codexHome: string, options: AutostartOptions): AutostartFiles {
  const files = autostartFiles(codexHome, { ...options.locations, os: options.os });
  if (files === undefined) {
    throw new CodexdError(
      "AUTOSTART_UNAVAILABLE",
      `Cannot enable autostart on ${
        options.os ?? Deno.build.os
      }: codexd knows systemd (Linux) and launchd (macOS) only`,
      "start codexd from your own startup script: codexd bootstrap",
    );
  }
  return files;
}

/**
 * Under the lock: persists the settings the unit relies on and writes the
 * unit (or plist) when its text changed. Returns what changed.
 */
async function writeServiceFiles(
  options: AutostartOptions,
  files: AutostartFiles,
): Promise<{ unitChanged: boolean; settingsChanged: boolean; remoteChanged: boolean }> {
  return await withLockedHome(options, async (ctx, before) => {
    const wantRemote = options.remoteControl === true && !before.remoteControlEnabled;
    const wantSupervision = !before.updater.enabled;
    const settings = wantRemote || wantSupervision
      ? await updateSettings(ctx.paths, {
        ...(wantRemote ? { remoteControlEnabled: true } : {}),
        ...(wantSupervision ? { updater: { enabled: true, autoUpdateEnabled: false } } : {}),
      })
      : before;
    const spec: ServiceSpec = {
      codexHome: ctx.paths.codexHome,
      denoPath: Deno.execPath(),
      entry: autostartEntry(options.moduleUrl),
      stateDir: ctx.paths.stateDir,
      shutdownGraceSeconds: settings.shutdownGraceSeconds,
      ...(Deno.env.get("DENO_DIR")?.startsWith("/") ? { denoDir: Deno.env.get("DENO_DIR") } : {}),
    };
    const text = files.manager === "launchd"
      ? renderLaunchdPlist(spec, ctx.paths.updaterLogFile)
      : renderSystemdUnit(spec);
    const unitChanged = (await readTextIfPresent(files.unit)) !== text;
    if (unitChanged) {
      await Deno.mkdir(dirname(files.unit), { recursive: true });
      await writeFileAtomic(files.unit, text, { mode: 0o644 });
    }
    return { unitChanged, settingsChanged: settings !== before, remoteChanged: wantRemote };
  });
}

/**
 * An active unit's app-server takes newly persisted remote control the way
 * `enable-remote-control` applies it: live, or by a restart through the
 * turn-safety gate that waits for running turns — never a plain
 * `systemctl reload` (a restart that would cut them). A refusal (no login)
 * is a warning here: autostart itself is enabled.
 */
async function applyRemoteControl(
  options: AutostartOptions,
  warnings: string[],
): Promise<PendingRestart | undefined> {
  const { setRemoteControl } = await import("./remote_control.ts");
  try {
    const applied = await setRemoteControl(true, options);
    warnings.push(...applied.warnings ?? []);
    return applied.pendingRestart;
  } catch (error) {
    warnings.push(
      `remote control is not applied to the running app-server: ${describeError(error)}`,
    );
    return undefined;
  }
}

function linked(path: string | undefined): boolean {
  return path !== undefined && pathExists(path, { follow: false });
}

async function mustSucceed(manager: UserManager, args: string[], job = false): Promise<void> {
  const run = await manager.systemctl(args, job);
  if (!run.success) {
    const unit = args.at(-1) ?? "";
    throw new CodexdError(
      job ? "NOT_READY" : "AUTOSTART_UNAVAILABLE",
      `Cannot run systemctl --user ${args.join(" ")}: ${helperError(run)}`,
      `systemctl --user status ${unit}; codexd logs`,
    );
  }
}

/**
 * Makes the app-server of this CODEX_HOME start at boot and starts the
 * service now.
 *
 * @throws {CodexdError} `AUTOSTART_UNAVAILABLE` without a reachable user
 * manager; `NOT_READY` when the unit fails to start.
 * @example
 * ```ts ignore
 * import { enableAutostart } from "./autostart.ts";
 * const { autostart } = await enableAutostart({ remoteControl: true });
 * console.log(autostart?.unit, autostart?.linger);
 * ```
 */
export async function enableAutostart(options: AutostartOptions = {}): Promise<AutostartResult> {
  const ctx = createContext(options);
  // Never a boot unit for a mistyped home.
  requireHome(ctx);
  const codexHome = ctx.paths.codexHome;
  const files = filesFor(codexHome, options);
  const warnings: string[] = [];
  if (files.manager === "launchd") {
    const { loadAgent } = await import("./autostart/launchd.ts");
    const { unitChanged, settingsChanged } = await writeServiceFiles(options, files);
    await loadAgent(files.unit, launchdLabel(codexHome));
    const already = !unitChanged && !settingsChanged;
    return await describe(options, already ? "alreadyEnabled" : "enabled", warnings);
  }
  const manager = await connectUserManager(options.systemd);
  const wasLinked = linked(files.wantsLink);
  const { unitChanged, settingsChanged, remoteChanged } = await writeServiceFiles(options, files);
  let pendingRestart: PendingRestart | undefined;
  const unit = unitFileName(codexHome);
  if (unitChanged) await mustSucceed(manager, ["daemon-reload"]);
  await mustSucceed(manager, ["enable", unit]);
  const linger = await ensureLinger(currentUser(options.locations), {
    ...options.systemd,
    lingerDir: options.locations?.lingerDir,
  });
  if (linger.warning) warnings.push(linger.warning);
  const hint = linger.linger
    ? undefined
    : `sudo loginctl enable-linger ${currentUser(options.locations)}`;
  const active = (await manager.systemctl(["is-active", unit])).stdout.trim() === "active";
  // The lock is released: the unit's own commands take it.
  if (!active) await mustSucceed(manager, ["start", unit], true);
  else if (remoteChanged) pendingRestart = await applyRemoteControl(options, warnings);
  const already = wasLinked && !unitChanged && !settingsChanged && active;
  const result = await describe(options, already ? "alreadyEnabled" : "enabled", warnings);
  return {
    ...result,
    ...(hint ? { hint } : {}),
    ...(pendingRestart ? { pendingRestart } : {}),
  };
}

/**
 * Stops this CODEX_HOME's app-server from starting at boot and removes the
 * unit (or plist). A running app-server keeps running: systemd's copy is
 * stopped and codexd starts it again outside the unit.
 *
 * @example
 * ```ts ignore
 * import { disableAutostart } from "./autostart.ts";
 * const { status } = await disableAutostart(); // "disabled" or "alreadyDisabled"
 * ```
 */
export async function disableAutostart(options: AutostartOptions = {}): Promise<AutostartResult> {
  const codexHome = createContext(options).paths.codexHome;
  const files = filesFor(codexHome, options);
  const warnings: string[] = [];
  if (!linked(files.unit) && !linked(files.wantsLink)) {
    return await describe(options, "alreadyDisabled", warnings);
  }
  const before = await status(options);
  const wasRunning = before.status === "running";
  if (files.manager === "launchd") {
    const { unloadAgent } = await import("./autostart/launchd.ts");
    await unloadAgent(launchdLabel(codexHome));
    await removeIfPresent(files.unit);
    return await describe(options, "disabled", warnings);
  }
  const unit = unitFileName(codexHome);
  const manager = await connectUserManager(options.systemd).catch((error: CodexdError) => {
    // No manager: nothing of the unit can be running; removing the files is all.
    warnings.push(`${error.message}; removed the unit files only`);
    return undefined;
  });
  const paths = createContext(options).paths;
  if (manager) {
    // Stopping the unit runs its ExecStop (`stop --all`): the handover note
    // makes that stop leave the app-server serving — never a stop that cuts
    // turns (see handover.ts).
    if (wasRunning) await writeHandover(paths, unit, Date.now());
    try {
      const run = await manager.systemctl(["disable", "--now", unit], true);
      if (!run.success) {
        warnings.push(`systemctl --user disable --now ${unit}: ${helperError(run)}`);
      }
    } finally {
      await clearHandover(paths);
    }
  }
  await removeIfPresent(files.wantsLink!);
  await removeIfPresent(files.unit);
  if (manager) await manager.systemctl(["daemon-reload"]);
  if (wasRunning) {
    // The app-server kept running: codexd alone manages it from here (start
    // adopts it and re-ensures the updater when bootstrap enabled one).
    const { start } = await import("./start.ts");
    await start(options);
  }
  return await describe(options, "disabled", warnings);
}
