/**
 * What an update pass reports: the result object (field-compatible with the
 * reference's `update`, plus codexd's own), its message in words, and the
 * one-line summaries written to `updater-state.json` and the updater log.
 * Pure: tested by tables.
 *
 * @module
 */
import { CodexdError, describeError } from "../errors.ts";
import type { PendingRestart } from "../idle/policy.ts";
import type { InterruptedTurn } from "../idle/probe.ts";
import type { PinView } from "../state/pin.ts";

/** What {@linkcode update} returns. */
export interface UpdateResult {
  /**
   * `updated` when a release was installed or the app-server moved to it;
   * `pinned` when nothing changed because a pin holds the host (see `pin`);
   * `unsupported` (as the reference answers) when a server started by hand
   * runs: nothing is installed or restarted.
   */
  status: "updated" | "noUpdate" | "pinned" | "unsupported";
  /** The pin in force after the pass (codexd's, an external binary, or the reference's), or `null`. */
  pin?: PinView | null;
  /** `--pin` / `--unpin` changed codexd's pin. */
  pinChanged?: boolean;
  /**
   * Things worth knowing, e.g. `--version` on a pinned host without `--pin`,
   * or that nothing could be started to apply the pending restart.
   */
  warnings?: string[];
  /** Why nothing happened, when nothing did. */
  reason?: string;
  /** Managed binary version before the pass. */
  previousVersion: string | null;
  /** Managed binary version after the pass. */
  version: string | null;
  /** Whether a new release was installed. */
  installed: boolean;
  /** Whether the app-server was restarted onto it. */
  restarted: boolean;
  /** On an updater pass: the lock was busy, the restart waits for the next pass. */
  restartDeferred?: boolean;
  /** Turns were running (or the window is closed): the restart waits in `pendingRestart`. */
  restartPending?: boolean;
  /** The restart left pending (`appliedBy` says which process applies it). */
  pendingRestart?: PendingRestart;
  /** Turns running when the restart was deferred. */
  activeTurns?: number;
  /** Turns interrupted because the pending restart's deadline passed. */
  interruptedTurns?: InterruptedTurn[];
  /** The app-server's pid after a restart. */
  pid?: number;
  /** What the running app-server reports. */
  appServerVersion?: string;
  /** The managed binary. */
  managedCodexPath: string;
  /** The control socket. */
  socketPath: string;
  /** This codexd's version. */
  codexdVersion: string;
  /** The managed binary's version after the pass (the reference's name for it). */
  installedVersion?: string | null;
  /** The version the running app-server reports after the pass; `null` when none runs. */
  runningVersion?: string | null;
  /** What happened, in words (the reference answers with a message too). */
  message?: string;
  /** Whether the pass changed anything on the host (installed, restarted, or the pin). */
  changed?: boolean;
}

/** The pass's message, from its fields (pure; tested by a table). */
export function updateMessage(result: UpdateResult, runningVersion: string | null): string {
  if (result.status === "unsupported") {
    return "an app-server started by hand runs on this home: codexd does not update it (codexd adopt, then update)";
  }
  if (result.reason === "referencePackage") {
    return "codex is the reference's package: its own updater (codex app-server daemon) updates it";
  }
  if (result.status === "noUpdate" || result.status === "pinned") {
    if (result.reason === "externalBinary") {
      return "codex is an external binary (codexBin): codexd does not update it";
    }
    if (result.status === "pinned") {
      if (result.pinChanged) return `${result.reason}; the updater keeps it`;
      return result.pin?.by === "reference"
        ? `${result.reason}: codexd keeps the reference's selection`
        : `${result.reason}: nothing changed (codexd update --unpin follows the latest)`;
    }
    if (result.reason) return `no update: ${result.reason}`;
    return `already up to date (${result.version ?? "unknown"})`;
  }
  if (result.restarted) return `updated to ${result.version}; the app-server runs it`;
  if (result.pinChanged && result.pin === null) return `unpinned; ${result.version} installed`;
  if (result.restartPending) {
    return `installed ${result.version}; the app-server (${
      runningVersion ?? "?"
    }) moves to it once no turn runs`;
  }
  if (runningVersion === null) return `installed ${result.version}; the next start runs it`;
  return `installed ${result.version}`;
}

/** An error as one log line: its code and the first line of its message. */
export function oneLine(error: unknown): string {
  const first = describeError(error).split("\n")[0];
  return error instanceof CodexdError ? `${error.code}: ${first}` : first;
}

/** One line for a pass's outcome, as `updater-state.json` `lastResult` says it. */
export function passSummary(result: UpdateResult): string {
  const summary = result.status === "updated"
    ? `updated ${result.previousVersion} -> ${result.version}${
      result.restarted ? " (restarted)" : ""
    }`
    : `${result.status}${result.reason ? ` (${result.reason})` : ""}`;
  return result.restartDeferred
    ? `${summary}; restart deferred: lock busy`
    : result.restartPending
    ? `${summary}; restart pending (${result.pendingRestart?.waitingFor ?? "idle"})`
    : summary;
}
