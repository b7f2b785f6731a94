/**
 * How results and errors reach a person or a program: the error JSON (one
 * object with a stable code) and the short human view printed only with
 * `--pretty`.
 *
 * @module
 */
import { CodexdError, describeError, type ErrorCode } from "../errors.ts";

/** Terminal escape sequences (CSI, OSC) and C0 controls other than tab and newline. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = new RegExp(
  "\\x1b\\[[0-9;?]*[ -/]*[@-~]|\\x1b\\][^\\x07\\x1b]*(?:\\x07|\\x1b\\\\)?|[\\x00-\\x08\\x0b-\\x1f\\x7f]",
  "g",
);

/** Removes terminal control sequences so a log or a message cannot drive the terminal. */
export function stripControl(text: string): string {
  return text.replace(CONTROL, "");
}

function field(output: Record<string, unknown>, key: string): string | undefined {
  const value = output[key];
  return value === undefined || value === null ? undefined : String(value);
}

/** One line for a lifecycle-style result: `started · pid 4242 · app-server 0.169.0`. */
function summaryLine(output: Record<string, unknown>): string {
  const parts = [field(output, "status") ?? "ok"];
  const pid = field(output, "pid");
  if (pid) parts.push(`pid ${pid}${output.managed === false ? " (unmanaged)" : ""}`);
  const server = field(output, "appServerVersion");
  if (server) parts.push(`app-server ${server}`);
  else if (field(output, "managedCodexVersion")) {
    parts.push(`codex ${field(output, "managedCodexVersion")}`);
  }
  for (const key of ["appServer", "version", "remoteControlEnabled", "updaterPid"]) {
    const value = field(output, key);
    if (value !== undefined) parts.push(`${key} ${value}`);
  }
  return parts.join(" · ");
}

/** A compact block for `status`: the few facts a person looks for. */
function statusBlock(output: Record<string, unknown>): string {
  const updater = (output.updater ?? {}) as Record<string, unknown>;
  const lines = [summaryLine(output)];
  if (output.uptimeSeconds !== undefined) lines.push(`uptime ${output.uptimeSeconds} s`);
  lines.push(`home    ${String(output.socketPath ?? "").replace(/\/app-server-control\/.*$/, "")}`);
  const live = (output.remoteControl as { status?: string } | null | undefined)?.status;
  lines.push(
    `remote  ${output.remoteControlEnabled ? "enabled" : "disabled"}${
      live ? ` (server: ${live})` : ""
    }`,
  );
  lines.push(
    `updater ${updater.running ? `running (pid ${updater.pid})` : "not running"}${
      updater.lastResult ? ` · last: ${updater.lastResult}` : ""
    }`,
  );
  return lines.join("\n");
}

/** Renders a result as a short human-readable summary (only with `--pretty`). */
export function renderPretty(output: Record<string, unknown>): string {
  const text = ((): string => {
    // A log tail reads best as the log itself.
    if (Array.isArray(output.lines) && typeof output.logPath === "string") {
      return [`==> ${output.logPath} <==`, ...output.lines].join("\n");
    }
    if (output.status === "error") {
      return [
        `error ${output.code}: ${output.message}`,
        ...(output.hint ? [`hint: ${output.hint}`] : []),
      ]
        .join("\n");
    }
    const lines = [
      output.updater !== undefined && output.pidRecord !== undefined
        ? statusBlock(output)
        : summaryLine(output),
    ];
    for (const warning of (output.warnings as string[] | undefined) ?? []) {
      lines.push(`warning: ${warning}`);
    }
    return lines.join("\n");
  })();
  return stripControl(text);
}

/** The JSON object printed for an error. */
export function errorOutput(
  error: unknown,
): { status: "error"; code: ErrorCode; message: string; hint?: string } {
  if (error instanceof CodexdError) {
    return {
      ...error.details,
      status: "error",
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
    };
  }
  return { status: "error", code: "INTERNAL", message: describeError(error) };
}
