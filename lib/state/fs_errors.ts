/**
 * Coded file-system errors: a Deno error on a state file becomes a
 * {@linkcode CodexdError} with a stable code and a hint (`STATE_UNREADABLE`,
 * `STATE_UNWRITABLE`, `HOME_INVALID`, `PERMISSION_DENIED`), never `INTERNAL`
 * for something a user can cause (a full disk, a read-only or foreign home).
 * `atomic_file.ts` uses it for every read and write; {@linkcode codeEscapedError}
 * is the library's last line for a raw error that escaped.
 *
 * @module
 */
import { CodexdError, describeError, shellQuote } from "../errors.ts";
import { dirname } from "@std/path/posix/dirname";

/** Whether a failure came from reading or from writing. */
export type FsAction = "read" | "write";

/** The OS reason in a Deno error message, e.g. "No space left on device (os error 28)". */
function osReason(error: unknown): string {
  const message = describeError(error);
  const match = /^([^:(]+?)\s*\(os error \d+\)/.exec(message);
  return match ? match[1].toLowerCase() : message;
}

/**
 * Maps a file-system error on `path` to a {@linkcode CodexdError}; a
 * `CodexdError` passes through unchanged.
 */
export function fsError(error: unknown, path: string, action: FsAction): CodexdError {
  if (error instanceof CodexdError) return error;
  const message = describeError(error);
  if (error instanceof Deno.errors.NotCapable) {
    return new CodexdError(
      "PERMISSION_DENIED",
      `Cannot ${action} ${path}: Deno denied it (${message})`,
      "deno run -A jsr:@codexd/daemon <command>",
    );
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new CodexdError(
      "HOME_INVALID",
      `Cannot ${action} ${path}: a part of the path is not a directory`,
      `check CODEX_HOME (ls -ld ${shellQuote(dirname(dirname(path)))})`,
    );
  }
  const code = action === "read" ? "STATE_UNREADABLE" : "STATE_UNWRITABLE";
  const reason = osReason(error);
  let hint = `check ${shellQuote(dirname(path))} (ls -ld; owner and mode)`;
  if (/no space left|quota/i.test(message)) {
    hint = `free space on the file system of ${dirname(path)}`;
  } else if (/read-only file system/i.test(message)) {
    hint = `CODEX_HOME is on a read-only file system; use a writable --codex-home`;
  } else if (error instanceof Deno.errors.IsADirectory || /is a directory/i.test(message)) {
    hint = `remove ${shellQuote(path)}`;
  }
  return new CodexdError(code, `Cannot ${action} ${path}: ${reason}`, hint);
}

/**
 * Maps whatever escaped to the library's boundary: coded errors pass, raw
 * Deno file-system errors get a code (the path from their message), anything
 * else passes unchanged (a bug: `INTERNAL`).
 */
export function codeEscapedError(error: unknown): unknown {
  if (error instanceof CodexdError || !(error instanceof Error)) return error;
  const isFs = Object.values(Deno.errors).some((kind) => error instanceof kind) &&
    !(error instanceof Deno.errors.Interrupted);
  if (!isFs) return error;
  const path = /'([^']+)'/.exec(error.message)?.[1] ?? "a CODEX_HOME file";
  const write = /\b(write|mkdir|rename|remove|unlink|chmod|truncate|copy|symlink)/i.test(
    error.message,
  );
  return fsError(error, path, write ? "write" : "read");
}
