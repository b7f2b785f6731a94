/**
 * codexd runs the Codex app-server as a managed background daemon on Unix
 * hosts, one per CODEX_HOME: `start`, `stop`, `restart`, `version`, `status`,
 * remote control and pairing (`pair`, `listClients`, `revokeClient`),
 * `bootstrap`, `update` and a self-refreshing updater. Each
 * function returns the same object the CLI prints as JSON and throws
 * {@linkcode CodexdError} with a stable `code` on failure.
 *
 * Run as a CLI: `deno run -A jsr:@codexd/daemon start`.
 *
 * @example Ensure the daemon runs and read its version
 * ```ts ignore
 * import { CodexdError, start, version } from "jsr:@codexd/daemon";
 *
 * try {
 *   await start({ codexHome: "/home/me/.codex" });
 *   const { appServerVersion } = await version({ codexHome: "/home/me/.codex" });
 *   console.log(`app-server ${appServerVersion} is up`);
 * } catch (error) {
 *   if (error instanceof CodexdError && error.code === "BINARY_MISSING") {
 *     console.error(`install codex first: ${error.hint}`);
 *   } else throw error;
 * }
 * ```
 *
 * @module
 */
export { CodexdError, type ErrorCode } from "./lib/errors.ts";
export type { Clock } from "./lib/clock.ts";
export type { DaemonOptions } from "./lib/server/context.ts";
export type { LifecycleResult, LifecycleStatus } from "./lib/server/result.ts";
export { start } from "./lib/start.ts";
export { stop, type StopOptions, type StopResult } from "./lib/stop.ts";
export { restart, type RestartOptions, type RestartResult } from "./lib/restart.ts";
export type { TurnReport, WhenIdleOptions } from "./lib/idle/when_idle.ts";
export type { PendingRestart } from "./lib/idle/policy.ts";
export type { PinView } from "./lib/state/pin.ts";
export type { InterruptedTurn } from "./lib/idle/probe.ts";
export { version } from "./lib/version_command.ts";
export { adopt, type AdoptResult } from "./lib/adopt.ts";
export { status, type StatusResult, type UpdaterStatus } from "./lib/status.ts";
export type { UpdaterState } from "./lib/updater/state.ts";
export type { WatchReport } from "./lib/remote_control/watch_state.ts";
export {
  type AppliedBy,
  type RemoteControlConnectionStatus,
  type RemoteControlResult,
  type RemoteControlView,
  setRemoteControl,
} from "./lib/remote_control.ts";
export {
  type ClientsResult,
  type DeviceCommon,
  listClients,
  pair,
  type Pairing,
  type PairOptions,
  type PairResult,
  type RemoteClient,
  revokeClient,
  type RevokeResult,
} from "./lib/pair.ts";
export { bootstrap, type BootstrapOptions, type BootstrapResult } from "./lib/bootstrap.ts";
export { update, type UpdateOptions, type UpdateResult } from "./lib/update.ts";
export { type LogsOptions, type LogsResult, readLogs } from "./lib/log_command.ts";
export type { InstallSource } from "./lib/state/settings.ts";
export type { InstallStage, StageListener } from "./lib/install/step.ts";
export { CODEXD_VERSION } from "./lib/version.ts";
export {
  type AutostartOptions,
  type AutostartResult,
  disableAutostart,
  enableAutostart,
} from "./lib/autostart.ts";
export {
  type AutostartInfo,
  type AutostartLocations,
  type AutostartManager,
  readAutostart,
} from "./lib/autostart/read.ts";
export type { SystemdFacts, SystemdOptions } from "./lib/autostart/systemd.ts";

if (import.meta.main) {
  const { main } = await import("./cli.ts");
  Deno.exit(await main(Deno.args));
}
