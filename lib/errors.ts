/**
 * The one domain error of codexd and its stable codes.
 *
 * Every failure a caller may want to branch on is a {@linkcode CodexdError}
 * with a {@linkcode ErrorCode}; the CLI maps it to JSON and an exit code in
 * one place (`cli.ts`). Codes are public API: never rename one.
 *
 * @module
 */

/** Stable error codes. Documented in README; never renamed. */
export type ErrorCode =
  | "UNSUPPORTED_PLATFORM"
  | "BINARY_MISSING"
  | "BINARY_NOT_EXECUTABLE"
  | "BINARY_VERSION_MALFORMED"
  | "BINARY_UNRESPONSIVE"
  | "PERMISSION_DENIED"
  | "HOME_INVALID"
  | "HOME_UNSAFE"
  | "STATE_UNREADABLE"
  | "STATE_UNWRITABLE"
  | "SOCKET_DIR_UNSAFE"
  | "NOT_OWNER"
  | "LOCK_TIMEOUT"
  | "SPAWN_FAILED"
  | "NOT_READY"
  | "NOT_RUNNING"
  | "UNMANAGED_SERVER"
  | "PID_UNVERIFIABLE"
  | "STOP_TIMEOUT"
  | "SETTINGS_INVALID"
  | "INSTALL_FAILED"
  | "UPDATE_FAILED"
  | "REMOTE_CONTROL_UNAVAILABLE"
  // `pair`/`clients`/`revoke` on a host whose remote control is off (settings or the server).
  | "REMOTE_CONTROL_OFF"
  // Remote control is on but the host has no environment yet (not enrolled).
  | "REMOTE_CONTROL_NOT_CONNECTED"
  // The app-server (or the backend behind it) failed a pairing or device request.
  | "REMOTE_CONTROL_REQUEST_FAILED"
  | "PAIRING_EXPIRED"
  | "HOME_NOT_FOUND"
  | "UPDATER_CONFLICT"
  // SIGINT/SIGTERM stopped an install (`update`, `bootstrap --install`): work files removed, nothing changed.
  | "INTERRUPTED"
  | "STILL_BUSY"
  | "AUTOSTART_UNAVAILABLE"
  | "USAGE"
  | "INTERNAL";

/**
 * A failure with a stable {@linkcode ErrorCode}, a message naming the action
 * and the state, and optionally the next command a user should run.
 *
 * @example Branch on the code
 * ```ts
 * import { CodexdError } from "./errors.ts";
 * try {
 *   throw new CodexdError("NOT_RUNNING", "No app-server answers", "codexd start");
 * } catch (error) {
 *   if (error instanceof CodexdError && error.code === "NOT_RUNNING") {
 *     console.log(error.hint); // "codexd start"
 *   }
 * }
 * ```
 */
export class CodexdError extends Error {
  /** The stable code callers branch on. */
  readonly code: ErrorCode;
  /** The next command a user should run, where there is one. */
  readonly hint?: string;
  /** Extra fields for the JSON output (e.g. `rolledBack`). */
  readonly details?: Record<string, unknown>;

  /** Creates an error with a stable code, a message, an optional hint and details. */
  constructor(
    code: ErrorCode,
    message: string,
    hint?: string,
    details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "CodexdError";
    this.code = code;
    this.hint = hint;
    this.details = details;
  }
}

/**
 * Quotes `word` for a POSIX shell, for hints a user copies into a terminal
 * (`chmod +x '/path with spaces/codex'`): bare when plainly safe, else
 * single-quoted. Lives here because hints are part of every error.
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Returns the message of any thrown value, for wrapping in a {@linkcode CodexdError}. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
