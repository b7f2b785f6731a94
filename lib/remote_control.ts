/**
 * `enable-remote-control` / `disable-remote-control`: persist
 * `remoteControlEnabled` in `settings.json` and, when a managed app-server
 * runs with the other setting, restart it so the change takes effect. All
 * under `daemon.lock`.
 *
 * @module
 */
import { readServerState } from "./server_record.ts";
import { flagsMatch } from "./app_server_spawn.ts";
import { binaryFor, createContext, type DaemonOptions, lockDaemon } from "./context.ts";
import { restartLocked } from "./restart.ts";
import { withUpdaterEnsured } from "./start.ts";
import { isAnswering } from "./control_socket.ts";
import { loadSettings, updateSettings } from "./settings.ts";
import { tryReadBinaryFacts } from "./managed_binary.ts";
import { CODEXD_VERSION } from "./version.ts";

/** What the remote-control commands print; field-compatible with the reference. */
export interface RemoteControlResult {
  /** `enabled`, `disabled`, `alreadyEnabled` or `alreadyDisabled`. */
  status: "enabled" | "disabled" | "alreadyEnabled" | "alreadyDisabled";
  /** `"pid"` when a managed app-server runs. */
  backend?: "pid";
  /** The persisted setting. */
  remoteControlEnabled: boolean;
  /** Whether a running app-server was restarted to apply it. */
  restarted: boolean;
  /** The pid of the running app-server. */
  pid?: number;
  /** The control socket. */
  socketPath: string;
  /** The managed codex CLI's version. */
  cliVersion?: string;
  /** What the running app-server reports. */
  appServerVersion?: string;
  /** This codexd's version. */
  codexdVersion: string;
  /** Non-fatal problems. */
  warnings?: string[];
}

/**
 * Persists the remote-control setting and applies it to a running app-server.
 *
 * @example
 * ```ts ignore
 * import { setRemoteControl } from "./remote_control.ts";
 * const { status } = await setRemoteControl(true); // "enabled" or "alreadyEnabled"
 * ```
 */
export async function setRemoteControl(
  enabled: boolean,
  options: DaemonOptions = {},
): Promise<RemoteControlResult> {
  const ctx = createContext(options);
  await using _lock = await lockDaemon(ctx);
  const { settings: before } = await loadSettings(ctx.paths);
  const changed = before.remoteControlEnabled !== enabled;
  const settings = changed
    ? await updateSettings(ctx.paths, { remoteControlEnabled: enabled })
    : before;
  const state = await readServerState(ctx.paths);
  let restarted = false;
  let pid: number | undefined;
  let appServerVersion: string | undefined;
  let warnings: string[] | undefined;
  if (state.kind === "running") {
    pid = state.record.pid;
    // Restart also when the setting was already right but the running
    // process was launched without it (e.g. started by an older codexd).
    if (changed || !flagsMatch(state.record, settings)) {
      const outcome = await withUpdaterEnsured(ctx, settings, await restartLocked(ctx, settings));
      restarted = true;
      pid = outcome.pid ?? undefined;
      appServerVersion = outcome.appServerVersion ?? undefined;
      warnings = outcome.warnings;
    } else {
      appServerVersion = (await isAnswering(ctx.paths.socketPath))?.appServerVersion;
    }
  }
  const facts = await tryReadBinaryFacts(ctx.paths, binaryFor(ctx, settings).path);
  const status = enabled
    ? (changed ? "enabled" : "alreadyEnabled")
    : (changed ? "disabled" : "alreadyDisabled");
  return {
    status,
    ...(pid !== undefined ? { backend: "pid" as const, pid } : {}),
    remoteControlEnabled: enabled,
    restarted,
    socketPath: ctx.paths.socketPath,
    ...(facts ? { cliVersion: facts.version } : {}),
    ...(appServerVersion ? { appServerVersion } : {}),
    codexdVersion: CODEXD_VERSION,
    ...(warnings ? { warnings } : {}),
  };
}
