/**
 * Bringing a running managed app-server to the persisted remote-control
 * setting: live over the control socket when it can, else by a restart with
 * the new launch flags through {@linkcode restartToApply} — the one seam turn
 * safety swaps for its restart-when-idle rule. Refusals come back as data
 * (`unavailable`) so each caller decides: the commands fail, `bootstrap`
 * warns. Call under `daemon.lock`; touches the files a restart touches.
 *
 * @module
 */
import type { AppServerClient } from "../app_server/client.ts";
import { flagsMatch } from "../server/spawn.ts";
import type { DaemonContext } from "../server/context.ts";
import { describeError } from "../errors.ts";
import { resolveCodexHome } from "../state/paths.ts";
import { connectForTurns } from "../idle/probe.ts";
import type { PendingRestart } from "../idle/policy.ts";
import type { PidRecord } from "../process/pid_record.ts";
import type { DaemonSettings } from "../state/settings.ts";
import {
  isPolicyRefusal,
  notConnectedWarning,
  refusalHint,
  type RemoteControlView,
} from "../app_server/remote_control.ts";
import { restartToApply } from "./restart_seam.ts";
import { settleTimeoutOf, type SwitchOutcome, switchRemoteControl } from "./session.ts";
import { readServerView } from "./view.ts";

/** How a setting reached the running app-server. */
export type AppliedBy =
  /** Switched over the control socket; the process kept running. */
  | "live"
  /** The app-server was restarted with the new launch flags. */
  | "restart"
  /** The running app-server already had that state (or cannot be switched and has the flags). */
  | "unchanged"
  /** Running turns hold the needed restart back; it happens once they end. */
  | "pendingRestart"
  /** Nothing runs: the setting applies at the next start. */
  | "nextStart";

/** What applying the setting to a running app-server did. */
export interface LiveApplication {
  /** How it was applied. */
  applied: Exclude<AppliedBy, "nextStart">;
  /** The running pid afterwards. */
  pid: number;
  /** What the app-server reports about itself. */
  appServerVersion?: string;
  /** The server's view afterwards. */
  remoteControl: RemoteControlView | null;
  /** Why the view is `null` or not as wanted. */
  remoteControlReason?: string;
  /** Non-fatal problems. */
  warnings: string[];
  /** Set when the server refused or could not enable remote control. */
  unavailable?: { message: string; hint: string };
  /** The deferred restart, when turn safety held it back. */
  pendingRestart?: PendingRestart;
}

function defaultHome(): string | undefined {
  try {
    return resolveCodexHome();
  } catch {
    return undefined;
  }
}

/** Adds what an enable's final view means: a refusal when `errored`/`disabled`, a warning when still pending. */
function judged(
  ctx: DaemonContext,
  enabled: boolean,
  application: LiveApplication,
  timedOut: boolean,
): LiveApplication {
  const view = application.remoteControl;
  if (!enabled) {
    if (view !== null && view.status !== "disabled") {
      application.warnings.push(
        `the app-server still reports remote control "${view.status}" after disabling`,
      );
    }
    return application;
  }
  if (view !== null && (view.status === "errored" || view.status === "disabled")) {
    const message = application.remoteControlReason ??
      `the app-server reports remote control "${view.status}"`;
    application.unavailable = {
      message,
      hint: refusalHint(message, ctx.paths.codexHome, defaultHome()),
    };
  } else if (view !== null && timedOut) {
    application.warnings.push(
      notConnectedWarning(view, undefined, true, settleTimeoutOf(ctx)) as string,
    );
  }
  return application;
}

/** When a held restart happens, in words. */
function heldUntil(waitingFor: PendingRestart["waitingFor"]): string {
  switch (waitingFor) {
    case "answer":
      return "once it answers again and is idle (it does not answer now, so codexd cannot tell whether turns run; it is never restarted blind)";
    case "window":
      return "inside the restart window";
    default:
      return "once its running turns end";
  }
}

async function viaRestart(
  ctx: DaemonContext,
  settings: DaemonSettings,
  record: PidRecord,
  why: string,
): Promise<LiveApplication> {
  const outcome = await restartToApply(ctx, settings, `remote control setting: ${why}`);
  const enabled = settings.remoteControlEnabled;
  const view = await readServerView(ctx.paths.socketPath, {
    connectTimeoutMs: ctx.options.probeTimeoutMs,
    settleTimeoutMs: settleTimeoutOf(ctx),
    settle: enabled && outcome.restarted,
    explain: enabled && outcome.restarted,
  });
  const common = {
    remoteControl: view.remoteControl,
    ...(view.remoteControlReason ? { remoteControlReason: view.remoteControlReason } : {}),
  };
  if (!outcome.restarted) {
    return {
      ...common,
      applied: "pendingRestart",
      pid: record.pid,
      ...(view.info ? { appServerVersion: view.info.appServerVersion } : {}),
      pendingRestart: outcome.pendingRestart,
      warnings: [
        `the app-server restarts with the new setting ${
          heldUntil(outcome.pendingRestart.waitingFor)
        }: ${why}`,
        ...(outcome.warnings ?? []),
      ],
    };
  }
  const restarted = outcome.result;
  return judged(ctx, enabled, {
    ...common,
    applied: "restart",
    pid: restarted.pid as number,
    ...(restarted.appServerVersion ? { appServerVersion: restarted.appServerVersion } : {}),
    warnings: [
      ...(restarted.warnings ?? []),
      `restarted the app-server to apply the setting: ${why}`,
    ],
  }, view.timedOut ?? false);
}

/**
 * Brings the running managed app-server to `settings.remoteControlEnabled`:
 * live when it can, else by `restartToApply`. Never throws for a
 * refusal: that comes back as `unavailable` so each caller decides (the
 * commands fail, `bootstrap` warns). Call under the lock.
 */
export async function applyToRunning(
  ctx: DaemonContext,
  settings: DaemonSettings,
  record: PidRecord,
): Promise<LiveApplication> {
  const enabled = settings.remoteControlEnabled;
  let client: AppServerClient;
  try {
    // Falls back to a plain session when the server refuses the experimental
    // API: its remoteControl/* calls then read as unsupported.
    client = await connectForTurns(ctx.paths.socketPath, ctx.options.probeTimeoutMs);
  } catch (error) {
    // Recorded but not answering (still starting, or hung): relaunch it with the flags.
    return await viaRestart(
      ctx,
      settings,
      record,
      `could not ask the app-server: ${describeError(error)}`,
    );
  }
  const base = { pid: record.pid, appServerVersion: client.info.appServerVersion };
  let outcome: SwitchOutcome;
  try {
    outcome = await switchRemoteControl(client, enabled, { settleTimeoutMs: settleTimeoutOf(ctx) });
  } catch (error) {
    await client.close();
    return await viaRestart(
      ctx,
      settings,
      record,
      `the app-server stopped answering: ${describeError(error)}`,
    );
  } finally {
    await client.close();
  }
  switch (outcome.kind) {
    case "unsupported": {
      const why = `app-server ${base.appServerVersion} has no remote-control methods; ` +
        "only a restart applies the setting";
      // Older servers only take the setting at launch: restart unless they already have it.
      if (!flagsMatch(record, settings)) return await viaRestart(ctx, settings, record, why);
      return {
        ...base,
        applied: "unchanged",
        remoteControl: null,
        remoteControlReason: why,
        warnings: [],
      };
    }
    case "refused": {
      const refused = {
        ...base,
        applied: "unchanged" as const,
        remoteControl: outcome.view,
        remoteControlReason: outcome.message,
        warnings: [],
      };
      // A policy forces remote control off: the wanted state already holds.
      if (!enabled && isPolicyRefusal(outcome.message)) return refused;
      if (!enabled) return await viaRestart(ctx, settings, record, outcome.message);
      return {
        ...refused,
        unavailable: {
          message: outcome.message,
          hint: refusalHint(outcome.message, ctx.paths.codexHome, defaultHome()),
        },
      };
    }
    case "switched":
      return judged(ctx, enabled, {
        ...base,
        applied: outcome.sent ? "live" : "unchanged",
        remoteControl: outcome.view,
        ...(outcome.reason ? { remoteControlReason: outcome.reason } : {}),
        warnings: [],
      }, outcome.timedOut);
  }
}
