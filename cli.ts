/**
 * The `codexd` command line: a table from command name to library call, one
 * argv parser, and one place that turns results and errors into stdout JSON,
 * stderr text and an exit code.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error, 3 `status` when stopped.
 *
 * @example Run from a checkout
 * ```sh
 * deno run -A cli.ts start --codex-home ~/.codex
 * ```
 *
 * @module
 */
import { CodexdError, describeError, type ErrorCode } from "./lib/errors.ts";
import type { DaemonOptions } from "./lib/lifecycle.ts";
import { CODEXD_VERSION } from "./lib/version.ts";

/** Exit code of a failed command. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Exit code of `status` when the app-server is stopped. */
export const EXIT_STOPPED = 3;

type FlagKind = "boolean" | "string" | "number";

interface FlagSpec {
  kind: FlagKind;
  help: string;
  value?: string;
}

/** Parsed command-line flags. */
export interface ParsedFlags {
  /** A flag's value: `true` for switches, a string or a number otherwise. */
  [name: string]: string | number | boolean | undefined;
}

/** What a command handler returns: the object to print and the exit code. */
interface CommandOutcome {
  output: Record<string, unknown>;
  exitCode: number;
}

interface CommandSpec {
  summary: string;
  flags: string[];
  examples: string[];
  run(flags: ParsedFlags, options: DaemonOptions): Promise<CommandOutcome>;
}

const FLAGS: Record<string, FlagSpec> = {
  "codex-home": {
    kind: "string",
    value: "DIR",
    help: "CODEX_HOME to manage (default $CODEX_HOME, else ~/.codex)",
  },
  "codex-bin": {
    kind: "string",
    value: "PATH",
    help: "launch this codex binary instead of the managed install",
  },
  "grace-seconds": {
    kind: "number",
    value: "N",
    help: "seconds between SIGTERM and SIGKILL (0-300)",
  },
  "start-timeout-seconds": {
    kind: "number",
    value: "N",
    help: "how long to wait for the app-server to answer (default 10)",
  },
  "lock-timeout-seconds": {
    kind: "number",
    value: "N",
    help: "how long to wait for another codexd command (default 75)",
  },
  all: { kind: "boolean", help: "also stop the updater's whole process group" },
  "remote-control": { kind: "boolean", help: "launch the app-server with remote control enabled" },
  install: { kind: "boolean", help: "install codex first when it is missing" },
  source: {
    kind: "string",
    value: "npm|install-sh",
    help: "where releases come from (default npm)",
  },
  version: { kind: "string", value: "X.Y.Z", help: "install this version instead of the latest" },
  registry: { kind: "string", value: "URL", help: "npm registry (default: npm's configuration)" },
  "no-auto-update": { kind: "boolean", help: "supervise only; never install updates" },
  "updater-pass": { kind: "boolean", help: "(internal) run as the updater's pass" },
  lines: { kind: "number", value: "N", help: "how many lines to show (also -n N; default 50)" },
  updater: { kind: "boolean", help: "show the updater's log instead of the app-server's" },
  pretty: { kind: "boolean", help: "print a short human-readable summary instead of JSON" },
  json: { kind: "boolean", help: "print JSON even on a terminal" },
  help: { kind: "boolean", help: "show help" },
};

const COMMON_FLAGS = ["codex-home", "codex-bin", "lock-timeout-seconds", "pretty", "json", "help"];

function ok(output: object, exitCode = 0): CommandOutcome {
  return { output: output as Record<string, unknown>, exitCode };
}

const COMMANDS: Record<string, CommandSpec> = {
  start: {
    summary: "Start the app-server if it is not running; return once it answers",
    flags: [...COMMON_FLAGS, "start-timeout-seconds"],
    examples: ["codexd start", "codexd start --codex-home /srv/codex"],
    run: async (_flags, options) => ok(await (await import("./lib/lifecycle.ts")).start(options)),
  },
  stop: {
    summary: "Stop the app-server: SIGTERM, wait the grace window, then SIGKILL",
    flags: [...COMMON_FLAGS, "grace-seconds", "all"],
    examples: ["codexd stop", "codexd stop --grace-seconds 5", "codexd stop --all"],
    run: async (flags, options) =>
      ok(await (await import("./lib/lifecycle.ts")).stop({ ...options, all: flags.all === true })),
  },
  restart: {
    summary: "Stop the app-server if it runs, then start a fresh one",
    flags: [...COMMON_FLAGS, "grace-seconds", "start-timeout-seconds"],
    examples: ["codexd restart"],
    run: async (_flags, options) => ok(await (await import("./lib/lifecycle.ts")).restart(options)),
  },
  version: {
    summary: "Print the running app-server's version (exit 1 when nothing answers)",
    flags: COMMON_FLAGS,
    examples: ["codexd version"],
    run: async (_flags, options) => ok(await (await import("./lib/lifecycle.ts")).version(options)),
  },
  "enable-remote-control": {
    summary: "Persist remote control on; restart a running app-server to apply it",
    flags: [...COMMON_FLAGS, "grace-seconds", "start-timeout-seconds"],
    examples: ["codexd enable-remote-control"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/remote_control.ts")).setRemoteControl(true, options)),
  },
  "disable-remote-control": {
    summary: "Persist remote control off; restart a running app-server to apply it",
    flags: [...COMMON_FLAGS, "grace-seconds", "start-timeout-seconds"],
    examples: ["codexd disable-remote-control"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/remote_control.ts")).setRemoteControl(false, options)),
  },
  bootstrap: {
    summary: "Record settings, start the app-server and the self-updating supervisor",
    flags: [
      ...COMMON_FLAGS,
      "remote-control",
      "install",
      "source",
      "version",
      "registry",
      "no-auto-update",
      "start-timeout-seconds",
    ],
    examples: [
      "codexd bootstrap --remote-control",
      "codexd bootstrap --install --remote-control",
      "codexd bootstrap --codex-bin /usr/local/bin/codex --no-auto-update",
    ],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/bootstrap.ts")).bootstrap({
          ...options,
          remoteControl: flags["remote-control"] === true,
          install: flags.install === true,
          source: sourceFlag(flags),
          version: stringFlag(flags, "version"),
          registry: stringFlag(flags, "registry"),
          ...(flags["no-auto-update"] ? { autoUpdate: false } : {}),
          onProgress: progressReporter(),
        }),
      ),
  },
  update: {
    summary: "Install the latest release now; restart only if the running version differs",
    flags: [
      ...COMMON_FLAGS,
      "source",
      "version",
      "registry",
      "updater-pass",
      "grace-seconds",
      "start-timeout-seconds",
    ],
    examples: ["codexd update", "codexd update --version 0.169.0"],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/update.ts")).update({
          ...options,
          source: sourceFlag(flags),
          version: stringFlag(flags, "version"),
          registry: stringFlag(flags, "registry"),
          updaterPass: flags["updater-pass"] === true,
          onProgress: progressReporter(),
        }),
      ),
  },
  supervise: {
    summary: "(internal) one supervision pass of the updater: restart a crashed app-server",
    flags: COMMON_FLAGS,
    examples: ["codexd supervise"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/supervise.ts")).superviseOnce(options)),
  },
  "enable-autostart": {
    summary:
      "Start this CODEX_HOME's app-server at boot (systemd user unit + linger; macOS LaunchAgent)",
    flags: [...COMMON_FLAGS, "remote-control"],
    examples: ["codexd enable-autostart", "codexd enable-autostart --remote-control"],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/autostart/command.ts")).enableAutostart({
          ...options,
          ...(flags["remote-control"] ? { remoteControl: true } : {}),
        }),
      ),
  },
  "disable-autostart": {
    summary:
      "Stop starting the app-server at boot; remove the unit (a running server keeps running)",
    flags: COMMON_FLAGS,
    examples: ["codexd disable-autostart"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/autostart/command.ts")).disableAutostart(options)),
  },
  "autostart-start": {
    summary: "(internal) the autostart unit's start command",
    flags: COMMON_FLAGS,
    examples: ["codexd autostart-start"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/autostart/service.ts")).serviceStart(options)),
  },
  "autostart-stopped": {
    summary: "(internal) the autostart unit's after-stop command",
    flags: COMMON_FLAGS,
    examples: ["codexd autostart-stopped"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/autostart/service.ts")).serviceStopped(options)),
  },
  logs: {
    summary: "Print the tail of the app-server's (or the updater's) stderr log",
    flags: [...COMMON_FLAGS, "lines", "updater"],
    examples: ["codexd logs", "codexd logs -n 200 --updater"],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/log_command.ts")).readLogs({
          ...options,
          lines: typeof flags.lines === "number" ? flags.lines : undefined,
          updater: flags.updater === true,
        }),
      ),
  },
  status: {
    summary: "Report the app-server, its pid record, uptime and the updater (exit 3 when stopped)",
    flags: COMMON_FLAGS,
    examples: ["codexd status", "codexd status --pretty"],
    run: async (_flags, options) => {
      const result = await (await import("./lib/status.ts")).status(options);
      return ok(result, result.status === "running" ? 0 : EXIT_STOPPED);
    },
  },
};

function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

function sourceFlag(flags: ParsedFlags): "npm" | "install-sh" | undefined {
  const source = stringFlag(flags, "source");
  if (source === undefined || source === "npm" || source === "install-sh") return source;
  throw usage(`Option --source must be npm or install-sh, got "${source}"`);
}

/** Download progress on stderr, only when stderr is a terminal (never on stdout). */
function progressReporter(): ((received: number, total?: number) => void) | undefined {
  if (!Deno.stderr.isTerminal()) return undefined;
  let last = 0;
  return (received, total) => {
    const now = Date.now();
    if (now - last < 200 && received !== total) return;
    last = now;
    const mib = (received / 1048576).toFixed(1);
    const of = total ? ` / ${(total / 1048576).toFixed(1)} MiB` : " MiB";
    Deno.stderr.writeSync(new TextEncoder().encode(`\rdownloading ${mib}${of}`));
    if (received === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  };
}

/** A usage error: bad command or flag. */
function usage(message: string, hint = "codexd --help"): CodexdError {
  return new CodexdError("USAGE", message, hint);
}

/** Parses `args` (after the command) against the command's flags. */
export function parseFlags(argv: string[], allowed: string[]): ParsedFlags {
  let args = argv;
  const flags: ParsedFlags = {};
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    if (arg === "-h") {
      flags.help = true;
      continue;
    }
    if (arg === "-n" && allowed.includes("lines")) {
      args = [...args.slice(0, i), "--lines", ...args.slice(i + 1)];
      arg = "--lines";
    }
    if (!arg.startsWith("--")) throw usage(`Unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = FLAGS[name];
    if (spec === undefined || !allowed.includes(name)) {
      throw usage(`Unknown option --${name}`);
    }
    if (spec.kind === "boolean") {
      if (eq >= 0) throw usage(`Option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (raw === undefined) throw usage(`Option --${name} needs a value`);
    if (spec.kind === "number") {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value) || value < 0) {
        throw usage(`Option --${name} needs a non-negative number, got "${raw}"`);
      }
      flags[name] = value;
    } else {
      flags[name] = raw;
    }
  }
  return flags;
}

function toOptions(flags: ParsedFlags): DaemonOptions {
  const options: DaemonOptions = {};
  if (typeof flags["codex-home"] === "string") options.codexHome = flags["codex-home"];
  if (typeof flags["codex-bin"] === "string") {
    const bin = flags["codex-bin"];
    options.codexBin = bin.startsWith("/") ? bin : `${Deno.cwd()}/${bin}`;
  }
  if (typeof flags["grace-seconds"] === "number") {
    if (flags["grace-seconds"] > 300) throw usage("Option --grace-seconds must be at most 300");
    options.graceSeconds = flags["grace-seconds"];
  }
  if (typeof flags["start-timeout-seconds"] === "number") {
    options.startTimeoutMs = flags["start-timeout-seconds"] * 1000;
  }
  if (typeof flags["lock-timeout-seconds"] === "number") {
    options.lockTimeoutMs = flags["lock-timeout-seconds"] * 1000;
  }
  return options;
}

function commandHelp(name: string, spec: CommandSpec): string {
  const lines = [
    `codexd ${name} — ${spec.summary}`,
    "",
    `Usage: codexd ${name} [options]`,
    "",
    "Options:",
  ];
  for (const flag of spec.flags) {
    const f = FLAGS[flag];
    const left = `  --${flag}${f.value ? ` ${f.value}` : ""}`;
    lines.push(`${left.padEnd(34)}${f.help}`);
  }
  lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

function globalHelp(): string {
  const lines = [
    `codexd ${CODEXD_VERSION} — run the Codex app-server as a managed background daemon`,
    "",
    "Usage: codexd <command> [options]",
    "",
    "Commands:",
  ];
  for (const [name, spec] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(24)}${spec.summary}`);
  }
  lines.push(
    "",
    "Every command prints one JSON object on stdout (--pretty for a readable summary).",
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 status: stopped.",
    "Run `codexd <command> --help` for its options and examples.",
  );
  return lines.join("\n");
}

/** Renders a result as a short human-readable summary. */
export function renderPretty(output: Record<string, unknown>): string {
  // A log tail reads best as the log itself.
  if (Array.isArray(output.lines) && typeof output.logPath === "string") {
    return [`==> ${output.logPath} <==`, ...output.lines].join("\n");
  }
  const lines: string[] = [];
  for (const [key, value] of Object.entries(output)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "object" && !Array.isArray(value)) {
      lines.push(`${key}:`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined && v !== null) lines.push(`  ${k}: ${v}`);
      }
    } else {
      lines.push(`${key}: ${Array.isArray(value) ? value.join("; ") : value}`);
    }
  }
  return lines.join("\n");
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

/** Where output goes; injectable for tests. */
export interface CliIo {
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
  /** Whether stdout is a terminal. */
  isTerminal(): boolean;
}

const denoIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  isTerminal: () => Deno.stdout.isTerminal(),
};

/**
 * Runs the CLI for `args` and returns the exit code. Never throws and never
 * exits; the caller exits.
 */
export async function main(args: string[], io: CliIo = denoIo): Promise<number> {
  const [name, ...rest] = args;
  let pretty = io.isTerminal() && !rest.includes("--json");
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      io.out(globalHelp());
      return name === undefined ? EXIT_USAGE : 0;
    }
    if (name === "--version" || name === "-V") {
      io.out(CODEXD_VERSION);
      return 0;
    }
    const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (spec === undefined) throw usage(`Unknown command "${name}"`);
    const flags = parseFlags(rest, spec.flags);
    if (flags.help) {
      io.out(commandHelp(name, spec));
      return 0;
    }
    pretty = flags.pretty === true || pretty;
    const { output, exitCode } = await spec.run(flags, toOptions(flags));
    io.out(pretty ? renderPretty(output) : JSON.stringify(output));
    return exitCode;
  } catch (error) {
    const output = errorOutput(error);
    io.out(pretty ? renderPretty(output) : JSON.stringify(output));
    io.err(`Error: ${output.message}`);
    return output.code === "USAGE" ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
