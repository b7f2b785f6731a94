/**
 * A server started by hand: an app-server answers on this home's socket while
 * no live record (codexd's or the reference's) names it. Like the reference,
 * codexd neither updates it (`update` → `unsupported`) nor bootstraps beside
 * it (`bootstrap` → `UNMANAGED_SERVER`): an updater must never supervise a
 * server codexd cannot stop or restart.
 *
 * @module
 */
import type { DaemonContext } from "./context.ts";
import { probe, type ProbeInfo } from "../app_server/probe.ts";
import { readServerState } from "./server_record.ts";

/** What answers on the socket when no record names it; `undefined` otherwise. */
export async function handStartedServer(ctx: DaemonContext): Promise<ProbeInfo | undefined> {
  const state = await readServerState(ctx.paths);
  if (state.kind === "running" || state.kind === "unverifiable") return undefined;
  return await probe(ctx);
}
