/**
 * `restart`: check the binary, stop the recorded app-server (if any), start a
 * fresh one — through the turn-safety gate, with `--when-idle` once no turn
 * runs. A broken binary never turns a working server into no server. The
 * step itself is `server/lifecycle.ts`'s `restartLocked`, which the updater
 * shares.
 *
 * @module
 */
import { createContext, type DaemonContext, type DaemonOptions } from "./server/context.ts";
import { underLock } from "./server/locked_home.ts";
import { restartLocked } from "./server/lifecycle.ts";
import type { LifecycleResult } from "./server/result.ts";
import type { DaemonSettings } from "./state/settings.ts";
import { finishLaunch } from "./start.ts";
import { markWanted } from "./updater/ensure.ts";
import { throughGate } from "./idle/gate.ts";
import {
  endTurnSafely,
  type IdleAttempt,
  turnFields,
  type TurnReport,
  type WhenIdleOptions,
} from "./idle/when_idle.ts";

/**
 * Stops the app-server if it runs, then starts it again (a fresh process).
 *
 * @example
 * ```ts ignore
 * import { restart } from "./restart.ts";
 * const { pid } = await restart();
 * ```
 */
export async function restart(options: RestartOptions = {}): Promise<RestartResult> {
  const ctx = createContext(options);
  return await endTurnSafely(
    ctx,
    "restart",
    options,
    (mode, counting) =>
      underLock(ctx, (_, settings) => restartUnderLock(ctx, settings, options, mode, counting)),
  );
}

async function restartUnderLock(
  ctx: DaemonContext,
  settings: DaemonSettings,
  options: RestartOptions,
  mode: "now" | "whenIdle",
  counting: Promise<TurnReport> = Promise.resolve({ warnings: [] }),
): Promise<IdleAttempt<RestartResult>> {
  await markWanted(ctx, settings);
  const gate = await throughGate(
    ctx,
    settings,
    { mode, idleGapMs: options.idleGapMs },
    (open) => restartLocked(ctx, settings, open, () => counting),
  );
  if (!gate.passed) return { done: false, hold: gate.hold };
  const turns = await counting;
  const outcome = gate.result;
  const warnings = [...turns.warnings, ...(outcome.warnings ?? [])];
  const combined = {
    ...outcome,
    ...(warnings.length ? { warnings } : {}),
    ...turnFields(turns),
  };
  return { done: true, value: await finishLaunch(ctx, settings, combined) };
}

/** Options for {@linkcode restart}. */
export interface RestartOptions extends DaemonOptions, WhenIdleOptions {}

/** What {@linkcode restart} returns. */
export interface RestartResult extends LifecycleResult, Omit<TurnReport, "warnings"> {}
