/**
 * The objects lifecycle commands print (field-compatible with the
 * reference) and the errors they share about who owns a server.
 *
 * @module
 */
import { pathExists } from "../state/atomic_file.ts";
import type { DaemonContext } from "./context.ts";
import { CodexdError } from "../errors.ts";
import { type BinaryFacts, type ManagedBinary, reportedVersion } from "./managed_binary.ts";
import type { PidState } from "../process/pid_record.ts";
import type { RemoteControlView } from "../app_server/remote_control.ts";
import type { SocketOwner } from "./socket_owner.ts";
import { CODEXD_VERSION } from "../version.ts";

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
  /** `"pid"` when a recorded process is involved, else `null`. */
  backend: "pid" | null;
  /** The app-server's pid (spawned, recorded, or the socket's owner), else `null`. */
  pid: number | null;
  /** Whether codexd (or the reference) holds a pid record of the server; `false` for one started by hand. */
  managed: boolean;
  /** The binary codexd launches. */
  managedCodexPath: string;
  /** Whether that binary exists. */
  managedCodexExists: boolean;
  /** Its `--version`, or `null` when it is missing or unreadable. */
  managedCodexVersion: string | null;
  /** The control socket. */
  socketPath: string;
  /** The managed codex CLI's version, or `null` when unknown. */
  cliVersion: string | null;
  /** The version the running app-server reports, or `null` when none answers. */
  appServerVersion: string | null;
  /** This codexd's version. */
  codexdVersion: string;
  /** Whether this command changed anything on the host (mutating commands). */
  changed?: boolean;
  /** Non-fatal problems a user should know about. */
  warnings?: string[];
  /** With remote control on: the server's own remote-control view (`null` when it cannot be asked). */
  remoteControl?: RemoteControlView | null;
  /** With remote control on: why `remoteControl` is `null` or not `connected`, when known, else `null`. */
  remoteControlReason?: string | null;
}

/** What a command knows beyond the binary, to shape its result. */
export interface ResultExtra {
  /** `"pid"` when a recorded process is involved. */
  backend?: "pid";
  /** The app-server's pid. */
  pid?: number;
  /** @default {true when `backend` is set} */
  managed?: boolean;
  /** The running server's version. */
  appServerVersion?: string;
  /** Whether the command changed anything. */
  changed?: boolean;
  /** Non-fatal problems. */
  warnings?: string[];
}

/**
 * Builds the result object: every key present (`null` where unknown), so a
 * client can rely on the shape; the binary's facts filled in when readable.
 */
export async function buildResult(
  ctx: DaemonContext,
  binary: ManagedBinary,
  status: LifecycleStatus,
  extra: ResultExtra = {},
  knownFacts?: BinaryFacts,
): Promise<LifecycleResult> {
  const exists = pathExists(binary.path);
  // Without knownFacts: the cache, else one bounded `--version` run that
  // fills it (`stop` must answer when the binary hangs, and still report the
  // version of one that answers).
  const version = knownFacts?.version ??
    (exists ? await reportedVersion(ctx.paths, binary.path) : undefined);
  return {
    status,
    backend: extra.backend ?? null,
    pid: extra.pid ?? null,
    managed: extra.managed ?? extra.backend !== undefined,
    managedCodexPath: binary.path,
    managedCodexExists: exists,
    managedCodexVersion: version ?? null,
    socketPath: ctx.paths.socketPath,
    cliVersion: version ?? null,
    appServerVersion: extra.appServerVersion ?? null,
    codexdVersion: CODEXD_VERSION,
    ...(extra.changed !== undefined ? { changed: extra.changed } : {}),
    ...(extra.warnings?.length ? { warnings: extra.warnings } : {}),
  };
}

/** The owner of a socket no record names, in words, for messages. */
export function describeOwner(owner: SocketOwner | undefined): string {
  if (owner === undefined) return "its owner is unknown";
  return owner.ours
    ? `pid ${owner.pid}, an app-server of this CODEX_HOME started without codexd`
    : `pid ${owner.pid}: ${owner.reason}`;
}

/**
 * A mutating command met a server no record names: it is left alone unless
 * the user adopts it or forces the stop (only possible for this home's own
 * app-server).
 */
export function unmanagedServer(
  ctx: DaemonContext,
  owner: SocketOwner | undefined,
  how: {
    /** The next command when it is this home's app-server (default: adopt, or stop --force). */
    adoptHint?: string;
    /** More details for the error (e.g. what was persisted). */
    details?: Record<string, unknown>;
  } = {},
): CodexdError {
  return new CodexdError(
    "UNMANAGED_SERVER",
    `An app-server answers on ${ctx.paths.socketPath} but no pid record names it (${
      describeOwner(owner)
    }); leaving it alone`,
    owner?.ours
      ? how.adoptHint ?? "codexd adopt (then codexd manages it), or: codexd stop --force"
      : `stop that process yourself${owner ? ` (pid ${owner.pid})` : ""}, then run: codexd start`,
    { managed: false, ownerPid: owner?.pid ?? null, ...how.details },
  );
}

/** A record names a process whose identity cannot be read: never signalled. */
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
