/**
 * `stop`: SIGTERM to the recorded app-server's process group, the grace
 * window, then SIGKILL; the record is removed — through the turn-safety gate
 * (`idle/gate.ts`), which with `--when-idle` confirms idle under the lock
 * right before the signal. Works even when settings are malformed. A server
 * codexd has no record of is never signalled (unless `--force` finds it is
 * this home's own).
 *
 * @module
 */
import { readServerState } from "./server/server_record.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  probe,
  requireHome,
} from "./server/context.ts";
import type { DaemonOptions } from "./server/context.ts";
import { underLock } from "./server/locked_home.ts";
import { setDown } from "./state/down_marker.ts";
import { buildResult, type LifecycleResult, unmanagedServer } from "./server/result.ts";
import type { DaemonSettings } from "./state/settings.ts";
import { pathExists, removeIfPresent } from "./state/atomic_file.ts";
import { describeError } from "./errors.ts";
import { findSocketOwner } from "./server/socket_owner.ts";
import { warmProcessApi } from "./process/terminate.ts";
import { type GatePass, throughGate } from "./idle/gate.ts";
import {
  endTurnSafely,
  type IdleAttempt,
  turnFields,
  type TurnReport,
  type WhenIdleOptions,
} from "./idle/when_idle.ts";

/**
 * Marks a deliberate stop so supervision does not bring the server back —
 * whenever an updater may be running, even when settings are unreadable.
 * Returns a warning instead of failing when the marker cannot be written
 * (disk full): the stop itself must still happen.
 */
async function markDown(
  ctx: DaemonContext,
  settingsReadable: boolean,
  enabled: boolean,
): Promise<string | undefined> {
  const updaterRecorded = [ctx.paths.updaterPidFile, ctx.paths.referenceUpdaterPidFile].some(
    (file) => pathExists(file, { follow: false }),
  );
  if (settingsReadable && !enabled && !updaterRecorded) return undefined;
  try {
    await setDown(ctx.paths, true);
    return undefined;
  } catch (error) {
    return `could not write ${ctx.paths.stateDir}/down (${
      describeError(error)
    }): supervision may restart the app-server`;
  }
}

/** Stops the server on the socket that no record names, when it is this home's own (`--force`). */
async function stopOwner(ctx: DaemonContext, pass: GatePass): Promise<number> {
  const owner = findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath);
  if (owner === undefined || !owner.ours || owner.probe.kind !== "alive") {
    throw unmanagedServer(ctx, owner);
  }
  const record = {
    pid: owner.pid,
    processStartTime: owner.probe.startTime.toISOString(),
    processIdentity: owner.probe.identity,
  };
  await pass.end({ kind: "running", record, startTime: owner.probe.startTime });
  return owner.pid;
}

/**
 * Stops the managed app-server (SIGTERM, grace, SIGKILL) and removes its
 * record and the app-server's thread snapshot (`loaded-threads.json`), so a
 * later start does not bring stopped threads back. Works even when settings
 * are malformed, and a stop holds: supervision leaves a stopped server alone.
 *
 * @throws {CodexdError} `HOME_NOT_FOUND` for a CODEX_HOME that does not exist;
 * `UNMANAGED_SERVER` for a server no record names (unless `force`).
 * @example
 * ```ts ignore
 * import { stop } from "./stop.ts";
 * const { status } = await stop({ graceSeconds: 5 }); // "stopped" or "notRunning"
 * ```
 */
export async function stop(options: StopOptions = {}): Promise<StopResult> {
  const ctx = createContext(options);
  requireHome(ctx);
  if (options.all && Deno.env.get("CODEXD_AUTOSTART_UNIT")) {
    const { isHandover } = await import("./autostart/handover.ts");
    if (await isHandover(ctx.paths, ctx.clock.now())) return await handOver(ctx);
  }
  return await endTurnSafely(ctx, "stop", options, (mode, counting) =>
    underLock(
      ctx,
      (_, settings, readable) => stopLocked(ctx, settings, readable, options, mode, counting),
      { settings: "lenient" },
    ));
}

/**
 * The stop under the lock, through the gate; a hold (only `whenIdle`) stops
 * nothing. Settings are read leniently (`settingsReadable` says whether the
 * file was): a stop works whatever they say.
 */
async function stopLocked(
  ctx: DaemonContext,
  settings: DaemonSettings,
  settingsReadable: boolean,
  options: StopOptions,
  mode: "now" | "whenIdle",
  counting: Promise<TurnReport> = Promise.resolve({ warnings: [] }),
): Promise<IdleAttempt<StopResult>> {
  const binary = binaryFor(ctx, settings);
  const gate = await throughGate(ctx, settings, {
    mode,
    idleGapMs: options.idleGapMs,
  }, async (open) => {
    const state = await readServerState(ctx.paths);
    if (state.kind === "running") warmProcessApi();
    const turns = await counting;
    // Asked right before anything is changed: a hold leaves the updater and `down` alone.
    const pass = await open();
    let updaterStopped: boolean | undefined;
    if (options.all) {
      const { stopUpdater } = await import("./updater/loop.ts");
      updaterStopped = await stopUpdater(ctx);
    }
    const warnings: string[] = [...turns.warnings];
    const downWarning = await markDown(ctx, settingsReadable, settings.updater.enabled);
    if (downWarning) warnings.push(downWarning);
    const extra = {
      ...(updaterStopped === undefined ? {} : { updaterStopped }),
      ...turnFields(turns),
    };
    let pid: number | undefined;
    if (await pass.end()) {
      pid = state.kind === "running" ? state.record.pid : undefined;
    } else if (await probe(ctx)) {
      if (!options.force) {
        throw unmanagedServer(ctx, findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath));
      }
      pid = await stopOwner(ctx, await reopen(ctx, settings));
    } else {
      return {
        ...await buildResult(ctx, binary, "notRunning", { changed: false, warnings }),
        ...extra,
      };
    }
    await removeIfPresent(ctx.paths.loadedThreadsFile).catch(() => {});
    return {
      ...await buildResult(ctx, binary, "stopped", {
        backend: "pid",
        ...(pid !== undefined ? { pid } : {}),
        changed: true,
        warnings,
      }),
      ...extra,
    };
  });
  return gate.passed ? { done: true, value: gate.result } : { done: false, hold: gate.hold };
}

/**
 * The ExecStop of an autostart unit that `disable-autostart` is removing:
 * stop the updater only; the app-server keeps serving, now outside the unit
 * (see `autostart/handover.ts`), so disabling autostart never cuts a turn.
 */
function handOver(ctx: DaemonContext): Promise<StopResult> {
  return underLock(ctx, async (ctx, settings) => {
    const { stopUpdater } = await import("./updater/loop.ts");
    const updaterStopped = await stopUpdater(ctx);
    return {
      ...await buildResult(ctx, binaryFor(ctx, settings), "notRunning", {
        changed: updaterStopped,
        warnings: ["autostart handover: the app-server keeps running outside the unit"],
      }),
      updaterStopped,
    };
  }, { settings: "lenient" });
}

/**
 * `--force` on a server no record names: a second pass of the gate (the
 * first found no record to end). A user's forced stop is a stop now.
 */
async function reopen(ctx: DaemonContext, settings: DaemonSettings): Promise<GatePass> {
  let pass: GatePass | undefined;
  await throughGate(ctx, settings, { mode: "now" }, async (open) => {
    pass = await open();
  });
  return pass!;
}

/** Options for {@linkcode stop}. */
export interface StopOptions extends DaemonOptions, WhenIdleOptions {
  /** Also stop the updater's whole process group. @default {false} */
  all?: boolean;
  /**
   * Stop a server no record names when it is this home's own app-server
   * (found through the socket's owner); never anything else. @default {false}
   */
  force?: boolean;
}

/** What {@linkcode stop} returns. */
export interface StopResult extends LifecycleResult, Omit<TurnReport, "warnings"> {
  /** With `all`: whether an updater was running and was stopped. */
  updaterStopped?: boolean;
}
