/**
 * `bootstrap` on an app-server that was already up: bring it to the recorded
 * remote-control setting (live, or by the restart seam) and fold the outcome
 * into the lifecycle result; a refusal becomes a warning, never a failure.
 * Call under `daemon.lock`.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import type { PendingRestart } from "../idle/policy.ts";
import type { PidRecord } from "../process/pid_record.ts";
import type { LifecycleResult } from "../server/result.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { applyToRunning } from "./apply.ts";
import { noPairedClientsWarning } from "./paired_count.ts";
import { readServerView } from "./view.ts";

/**
 * `bootstrap`'s use of {@linkcode applyToRunning} on a server that was
 * already up: the outcome gains the server's view, becomes `restarted` when
 * a restart applied the setting, and a refusal turns into a warning.
 */
export async function applyToRunningReported(
  ctx: DaemonContext,
  settings: DaemonSettings,
  record: PidRecord,
  outcome: LifecycleResult,
): Promise<LifecycleResult & { pendingRestart?: PendingRestart }> {
  const live = await applyToRunning(ctx, settings, record);
  let remoteControl = live.remoteControl;
  if (settings.remoteControlEnabled && remoteControl !== null) {
    // One more short session, only with remote control on: how many devices can reach it.
    const counted = await readServerView(ctx.paths.socketPath, {
      connectTimeoutMs: ctx.options.probeTimeoutMs,
      countClients: true,
    });
    remoteControl = counted.remoteControl ?? { ...remoteControl, pairedClients: null };
  }
  const unpaired = noPairedClientsWarning(remoteControl?.pairedClients, ctx.paths.codexHome);
  const warnings = [
    ...(outcome.warnings ?? []),
    ...live.warnings,
    ...(live.unavailable
      ? [`remote control is not available: ${live.unavailable.message} (${live.unavailable.hint})`]
      : []),
    ...(unpaired ? [unpaired] : []),
  ];
  return {
    ...outcome,
    ...(live.applied === "restart" ? { status: "restarted" as const, pid: live.pid } : {}),
    ...(live.applied === "live" || live.applied === "restart" ? { changed: true } : {}),
    ...(live.pendingRestart !== undefined ? { pendingRestart: live.pendingRestart } : {}),
    ...(live.appServerVersion ? { appServerVersion: live.appServerVersion } : {}),
    remoteControl,
    remoteControlReason: live.remoteControlReason ?? null,
    ...(warnings.length ? { warnings } : {}),
  };
}
