/**
 * What `start`, `restart` and `bootstrap` add when remote control is on: the server's
 * own remote-control view after readiness (waiting, bounded, while it is
 * `connecting`), how many devices are paired (`remoteControl.pairedClients`),
 * and a warning when it is not connected or nobody is paired (`codexd pair`).
 * Never fails a start.
 * Touches no files.
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import type { LifecycleResult } from "../server/result.ts";
import type { DaemonSettings } from "../state/settings.ts";
import { noPairedClientsWarning } from "./paired_count.ts";
import { notConnectedWarning } from "../app_server/remote_control.ts";
import { settleTimeoutOf } from "./session.ts";
import { readServerView } from "./view.ts";

/**
 * Adds `remoteControl` (and `remoteControlReason`, and a warning when not
 * connected) to a start/bootstrap result when `settings` enable remote control.
 */
export async function withRemoteControlView<T extends LifecycleResult>(
  ctx: DaemonContext,
  settings: DaemonSettings,
  outcome: T,
): Promise<T> {
  if (!settings.remoteControlEnabled) return outcome;
  const settleMs = settleTimeoutOf(ctx);
  const view = await readServerView(ctx.paths.socketPath, {
    connectTimeoutMs: ctx.options.probeTimeoutMs,
    settleTimeoutMs: settleMs,
    settle: true,
    explain: true,
    countClients: true,
  });
  const warnings = [
    notConnectedWarning(
      view.remoteControl,
      view.remoteControlReason,
      view.timedOut ?? false,
      settleMs,
    ),
    noPairedClientsWarning(view.remoteControl?.pairedClients, ctx.paths.codexHome),
  ].filter((w): w is string => w !== undefined);
  return {
    ...outcome,
    remoteControl: view.remoteControl,
    remoteControlReason: view.remoteControlReason ?? null,
    ...(warnings.length ? { warnings: [...(outcome.warnings ?? []), ...warnings] } : {}),
  };
}
