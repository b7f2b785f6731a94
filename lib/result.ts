/**
 * The objects lifecycle commands print (field-compatible with the
 * reference) and the errors they share about who owns a server.
 *
 * @module
 */
import type { DaemonContext } from "./context.ts";
import { CodexdError } from "./errors.ts";
import { type BinaryFacts, type ManagedBinary, tryReadBinaryFacts } from "./managed_binary.ts";
import type { PidState } from "./pid_record.ts";
import type { RemoteControlView } from "./remote_control/protocol.ts";
import { CODEXD_VERSION } from "./version.ts";

/** Lifecycle statuses, as the reference spells them. */
export type LifecycleStatus =
  | "started"
  | "alreadyRunning"
  | "restarted"
  | "stopped"
  | "notRunning"
  | "running";

/** The JSON object lifecycle commands print; field-compatible with the reference. */
export interface LifecycleResult {
  /** What happened. */
  status: LifecycleStatus;
  /** Always `"pid"` when a managed process is involved. */
  backend?: "pid";
  /** The pid, when a process was spawned or is running. */
  pid?: number;
  /** The binary codexd launches. */
  managedCodexPath: string;
  /** Its `--version`, or `null` when it is missing or unreadable. */
  managedCodexVersion: string | null;
  /** The control socket. */
  socketPath: string;
  /** The managed codex CLI's version. */
  cliVersion?: string;
  /** The version the running app-server reports. */
  appServerVersion?: string;
  /** This codexd's version. */
  codexdVersion: string;
  /** Non-fatal problems a user should know about. */
  warnings?: string[];
  /** With remote control on: the server's own remote-control view (`null` when it cannot be asked). */
  remoteControl?: RemoteControlView | null;
  /** Why `remoteControl` is `null` or not `connected`, when known. */
  remoteControlReason?: string;
}
/** Builds the result object, filling in the binary's facts when readable. */
export async function buildResult(
  ctx: DaemonContext,
  binary: ManagedBinary,
  status: LifecycleStatus,
  extra: Partial<LifecycleResult> = {},
  knownFacts?: BinaryFacts,
): Promise<LifecycleResult> {
  const facts = knownFacts ?? await tryReadBinaryFacts(ctx.paths, binary.path);
  return {
    status,
    ...(extra.backend ? { backend: extra.backend } : {}),
    ...(extra.pid !== undefined ? { pid: extra.pid } : {}),
    managedCodexPath: binary.path,
    managedCodexVersion: facts?.version ?? null,
    socketPath: ctx.paths.socketPath,
    ...(facts ? { cliVersion: facts.version } : {}),
    ...(extra.appServerVersion ? { appServerVersion: extra.appServerVersion } : {}),
    codexdVersion: CODEXD_VERSION,
    ...(extra.warnings?.length ? { warnings: extra.warnings } : {}),
  };
}

export function unmanagedServer(ctx: DaemonContext): CodexdError {
  // The Rust reference records its daemon in daemon.pid: name the tool that owns it.
  let byReference = false;
  try {
    Deno.statSync(`${ctx.paths.stateDir}/daemon.pid`);
    byReference = true;
  } catch {
    // not the reference's
  }
  return new CodexdError(
    "UNMANAGED_SERVER",
    `An app-server answers on ${ctx.paths.socketPath} but codexd has no record of starting it${
      byReference ? " (codex app-server daemon manages it)" : ""
    }; leaving it alone`,
    byReference
      ? "codex app-server daemon stop, then: codexd start"
      : "stop that app-server yourself, then run: codexd start",
  );
}

export function unverifiable(
  ctx: DaemonContext,
  state: PidState & { kind: "unverifiable" },
): CodexdError {
  return new CodexdError(
    "PID_UNVERIFIABLE",
    `Cannot verify that pid ${state.record.pid} is the app-server codexd started (${state.reason}); not signalling it`,
    `check pid ${state.record.pid}, then remove ${ctx.paths.pidFile}`,
  );
}
