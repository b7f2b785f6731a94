/**
 * The resident updater (placeholder until the updater lands).
 *
 * @module
 */
import type { DaemonContext } from "./lifecycle.ts";

/** Makes sure one updater runs for this CODEX_HOME. */
export function ensureUpdater(_ctx: DaemonContext): Promise<void> {
  return Promise.resolve();
}
