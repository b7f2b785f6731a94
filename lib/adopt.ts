/**
 * `adopt`: take over an app-server of this CODEX_HOME that no pid record
 * names (started by hand, or by a tool whose records are gone). Its owner is
 * found through the control socket (`server/socket_owner.ts`) and must be this
 * home's codex app-server; codexd then writes a proper record (identity from
 * `/proc`) so every command manages it. Nothing else is ever adopted.
 *
 * @module
 */
import { binaryFor, type DaemonContext, type DaemonOptions, probe } from "./server/context.ts";
import { withLockedHome } from "./server/locked_home.ts";
import { CodexdError } from "./errors.ts";
import { buildResult, type LifecycleResult, unmanagedServer } from "./server/result.ts";
import { readServerState, writeServerRecordOf } from "./server/server_record.ts";
import type { DaemonSettings } from "./state/settings.ts";
import { findSocketOwner } from "./server/socket_owner.ts";

/** What {@linkcode adopt} returns. */
export interface AdoptResult extends Omit<LifecycleResult, "status"> {
  /** `adopted`, or `alreadyManaged` when a record already names the server. */
  status: "adopted" | "alreadyManaged";
}

/**
 * Writes a pid record for this home's running app-server when none names it.
 *
 * @throws {CodexdError} `NOT_RUNNING` when nothing answers; `UNMANAGED_SERVER`
 * when the socket's owner is not this home's app-server.
 * @example
 * ```ts ignore
 * import { adopt } from "./adopt.ts";
 * const { status, pid } = await adopt({ codexHome: "/home/me/.codex" });
 * ```
 */
export async function adopt(options: DaemonOptions = {}): Promise<AdoptResult> {
  // Malformed settings do not stand in the way: only the binary's path is read from them.
  return await withLockedHome(options, adoptLocked, { settings: "lenient" });
}

/** {@linkcode adopt} under the lock. */
async function adoptLocked(ctx: DaemonContext, settings: DaemonSettings): Promise<AdoptResult> {
  const binary = binaryFor(ctx, settings);
  const state = await readServerState(ctx.paths);
  const info = await probe(ctx);
  if (state.kind === "running") {
    const result = await buildResult(ctx, binary, "alreadyRunning", {
      backend: "pid",
      pid: state.record.pid,
      appServerVersion: info?.appServerVersion,
      changed: false,
    });
    return { ...result, status: "alreadyManaged" };
  }
  if (info === undefined) {
    throw new CodexdError(
      "NOT_RUNNING",
      `Cannot adopt: no app-server answers on ${ctx.paths.socketPath}`,
      "codexd start",
    );
  }
  const owner = findSocketOwner(ctx.paths.codexHome, ctx.paths.socketPath);
  if (owner === undefined || !owner.ours || owner.probe.kind !== "alive") {
    throw unmanagedServer(ctx, owner);
  }
  await writeServerRecordOf(ctx.paths, {
    pid: owner.pid,
    processStartTime: owner.probe.startTime.toISOString(),
    processIdentity: owner.probe.identity,
  });
  const result = await buildResult(ctx, binary, "alreadyRunning", {
    backend: "pid",
    pid: owner.pid,
    appServerVersion: info.appServerVersion,
    changed: true,
  });
  return { ...result, status: "adopted" };
}
