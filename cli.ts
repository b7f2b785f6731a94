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
import type { DaemonOptions } from "./lib/context.ts";
import {
  CODEX_FLAGS,
  FLAGS,
  type ParsedFlags,
  parseFlags,
  toOptions,
  usage,
} from "./lib/cli/flags.ts";
import { errorOutput, renderPretty, stripControl } from "./lib/cli/render.ts";

export { errorOutput, type ParsedFlags, parseFlags, renderPretty };
import { CODEXD_VERSION } from "./lib/version.ts";

/** Exit code of a failed command. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Exit code of `status` when the app-server is stopped. */
export const EXIT_STOPPED = 3;

/** What a command handler returns: the object to print and the exit code. */
interface CommandOutcome {
  output: Record<string, unknown>;
  exitCode: number;
}

interface CommandSpec {
  summary: string;
  /** The name of a required first argument (e.g. `CLIENT_ID`), for commands that take one. */
  argument?: string;
  flags: string[];
  examples: string[];
  run(flags: ParsedFlags, options: DaemonOptions, argument?: string): Promise<CommandOutcome>;
}

const COMMON_FLAGS = [
  "codex-home",
  "codex-bin",
  "lock-timeout-seconds",
  "allow-foreign-home",
  "pretty",
  "json",
  "help",
  ...CODEX_FLAGS,
];

function ok(output: object, exitCode = 0): CommandOutcome {
  return { output: output as Record<string, unknown>, exitCode };
}

const COMMANDS: Record<string, CommandSpec> = {
  start: {
    summary: "Start the app-server if it is not running; return once it answers",
    flags: [...COMMON_FLAGS, "start-timeout-seconds"],
    examples: ["codexd start", "codexd start --codex-home /srv/codex"],
    run: async (_flags, options) => ok(await (await import("./lib/start.ts")).start(options)),
  },
  stop: {
    summary: "Stop the app-server: SIGTERM, wait the grace window, then SIGKILL",
    flags: [...COMMON_FLAGS, "grace-seconds", "all", "force", "when-idle", "idle-timeout-seconds"],
    examples: [
      "codexd stop",
      "codexd stop --grace-seconds 5",
      "codexd stop --all",
      "codexd stop --when-idle --idle-timeout-seconds 1800",
    ],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/stop.ts")).stop({
          ...options,
          ...whenIdleFlags(flags),
          all: flags.all === true,
          force: flags.force === true,
        }),
      ),
  },
  adopt: {
    summary: "Manage this home's app-server that no pid record names (started by hand)",
    flags: COMMON_FLAGS,
    examples: ["codexd adopt"],
    run: async (_flags, options) => ok(await (await import("./lib/adopt.ts")).adopt(options)),
  },
  restart: {
    summary: "Stop the app-server if it runs, then start a fresh one",
    flags: [
      ...COMMON_FLAGS,
      "grace-seconds",
      "start-timeout-seconds",
      "when-idle",
      "idle-timeout-seconds",
    ],
    examples: ["codexd restart", "codexd restart --when-idle"],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/restart.ts")).restart({ ...options, ...whenIdleFlags(flags) }),
      ),
  },
  version: {
    summary: "Print the running app-server's version (exit 1 when nothing answers)",
    flags: COMMON_FLAGS,
    examples: ["codexd version"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/version_command.ts")).version(options)),
  },
  "enable-remote-control": {
    summary: "Persist remote control on; switch a running app-server live and report its status",
    flags: [...COMMON_FLAGS, "grace-seconds", "start-timeout-seconds"],
    examples: ["codexd enable-remote-control"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/remote_control.ts")).setRemoteControl(true, options)),
  },
  "disable-remote-control": {
    summary: "Persist remote control off; switch a running app-server live and report its status",
    flags: [...COMMON_FLAGS, "grace-seconds", "start-timeout-seconds"],
    examples: ["codexd disable-remote-control"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/remote_control.ts")).setRemoteControl(false, options)),
  },
  pair: {
    summary: "Pair a phone or desktop with this host: print pairing codes (remote control on)",
    flags: [...COMMON_FLAGS, "manual-code", "wait-seconds"],
    examples: ["codexd pair", "codexd pair --manual-code --wait-seconds 300 --pretty"],
    run: async (flags, options) =>
      ok(
        await (await import("./lib/pair.ts")).pair({
          ...options,
          manualCode: flags["manual-code"] === true,
          ...(typeof flags["wait-seconds"] === "number"
            ? { waitSeconds: flags["wait-seconds"] }
            : {}),
        }),
      ),
  },
  clients: {
    summary: "List the devices paired with this host",
    flags: COMMON_FLAGS,
    examples: ["codexd clients"],
    run: async (_flags, options) => ok(await (await import("./lib/pair.ts")).listClients(options)),
  },
  revoke: {
    summary: "Revoke a paired device (its id from: codexd clients)",
    argument: "CLIENT_ID",
    flags: COMMON_FLAGS,
    examples: ["codexd revoke CLIENT_ID"],
    run: async (_flags, options, clientId) =>
      ok(await (await import("./lib/pair.ts")).revokeClient(clientId as string, options)),
  },
  bootstrap: {
    summary: "Record settings, start the app-server and the self-updating supervisor",
    flags: [
      ...COMMON_FLAGS,
      "remote-control",
      "no-remote-control",
      "auto-update",
      "install",
      "source",
      "version",
      "pin",
      "registry",
      "no-auto-update",
      "start-timeout-seconds",
    ],
    examples: [
      "codexd bootstrap --remote-control",
      "codexd bootstrap --install --remote-control",
      "codexd bootstrap --codex-bin /usr/local/bin/codex --no-auto-update",
      "codexd bootstrap --install --version 0.169.0 --pin",
    ],
    run: async (flags, options) => {
      const { bootstrap } = await import("./lib/bootstrap.ts");
      const run = (signal?: AbortSignal): ReturnType<typeof bootstrap> =>
        bootstrap({
          ...options,
          ...(flags["remote-control"] ? { remoteControl: true } : {}),
          ...(flags["no-remote-control"] ? { remoteControl: false } : {}),
          ...(flags["auto-update"] ? { autoUpdate: true } : {}),
          install: flags.install === true,
          source: sourceFlag(flags),
          version: stringFlag(flags, "version"),
          pin: flags.pin === true,
          registry: stringFlag(flags, "registry"),
          ...(flags["no-auto-update"] ? { autoUpdate: false } : {}),
          onProgress: progressReporter(),
          signal,
        });
      // Signal listeners only when it may install (see lib/interrupt.ts).
      if (flags.install !== true) return ok(await run());
      return ok(await (await import("./lib/interrupt.ts")).interruptible(run));
    },
  },
  update: {
    summary: "Install the latest release now; restart only if the running version differs",
    flags: [
      ...COMMON_FLAGS,
      "source",
      "version",
      "pin",
      "unpin",
      "registry",
      "updater-pass",
      "grace-seconds",
      "start-timeout-seconds",
      "now",
    ],
    examples: [
      "codexd update",
      "codexd update --version 0.169.0",
      "codexd update --version 0.169.0 --pin",
      "codexd update --unpin",
      "codexd update --now",
    ],
    run: async (flags, options) => {
      const { update } = await import("./lib/update.ts");
      const { interruptible } = await import("./lib/interrupt.ts");
      return ok(
        await interruptible((signal) =>
          update({
            ...options,
            source: sourceFlag(flags),
            version: stringFlag(flags, "version"),
            pin: flags.pin === true,
            unpin: flags.unpin === true,
            registry: stringFlag(flags, "registry"),
            updaterPass: flags["updater-pass"] === true,
            now: flags.now === true,
            onProgress: progressReporter(),
            signal,
          })
        ),
      );
    },
  },
  supervise: {
    summary: "(internal) one supervision pass of the updater: restart a crashed app-server",
    flags: COMMON_FLAGS,
    examples: ["codexd supervise"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/supervise.ts")).superviseOnce(options)),
  },
  "watch-remote-control": {
    summary: "(internal) one remote-control watchdog pass: switch it off and on when stuck",
    flags: COMMON_FLAGS,
    examples: ["codexd watch-remote-control"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/remote_control/watchdog.ts")).watchRemoteControlOnce(options)),
  },
  "apply-pending": {
    summary: "(internal) apply a restart an update deferred, once no turn runs",
    flags: COMMON_FLAGS,
    examples: ["codexd apply-pending"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/idle/apply_pending.ts")).applyPendingRestart(options)),
  },
  "follow-binary": {
    summary:
      "(internal) the launched binary changed on disk: restart onto another version once no turn runs",
    flags: COMMON_FLAGS,
    examples: ["codexd follow-binary"],
    run: async (_flags, options) =>
      ok(await (await import("./lib/follow_binary.ts")).followBinary(options)),
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

function whenIdleFlags(flags: ParsedFlags): { whenIdle: boolean; idleTimeoutMs?: number } {
  const seconds = flags["idle-timeout-seconds"];
  if (typeof seconds === "number" && flags["when-idle"] !== true) {
    throw usage("Option --idle-timeout-seconds needs --when-idle");
  }
  return {
    whenIdle: flags["when-idle"] === true,
    ...(typeof seconds === "number" ? { idleTimeoutMs: seconds * 1000 } : {}),
  };
}

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

function commandHelp(name: string, spec: CommandSpec): string {
  const lines = [
    `codexd ${name} — ${spec.summary}`,
    "",
    `Usage: codexd ${name}${spec.argument ? ` ${spec.argument}` : ""} [options]`,
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

/** Where output goes; injectable for tests. */
export interface CliIo {
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
  /** Whether stdout is a terminal. */
  isTerminal(): boolean;
}

const stdoutEncoder = new TextEncoder();

/** Writes all of `bytes` to stdout; `console.log` costs ~1 ms on first use (measured). */
function writeStdout(text: string): void {
  const bytes = stdoutEncoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

const denoIo: CliIo = {
  out: (line) => writeStdout(line + "\n"),
  err: (line) => console.error(line),
  isTerminal: () => Deno.stdout.isTerminal(),
};

/**
 * Runs the CLI for `args` and returns the exit code. Never throws and never
 * exits; the caller exits.
 */
export async function main(args: string[], io: CliIo = denoIo): Promise<number> {
  const [name, ...rest] = args;
  // JSON always, as the reference: clients run `ssh -t` and parse stdout.
  let pretty = rest.includes("--pretty") && !rest.includes("--json");
  try {
    if (name === undefined) {
      // stdout is always one JSON object (clients parse it); the help goes to stderr.
      io.err(globalHelp());
      throw usage("No command given", "codexd --help (or: codexd status)");
    }
    if (name === "--help" || name === "-h" || name === "help") {
      io.out(globalHelp());
      return 0;
    }
    if (name === "--version" || name === "-V") {
      io.out(CODEXD_VERSION);
      return 0;
    }
    const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (spec === undefined) throw usage(`Unknown command "${name}"`);
    // A command's one argument comes first: `codexd revoke CLIENT_ID [options]`.
    const argument = spec.argument && rest[0] !== undefined && !rest[0].startsWith("-")
      ? rest[0]
      : undefined;
    const flags = parseFlags(argument === undefined ? rest : rest.slice(1), spec.flags);
    if (flags.help) {
      io.out(commandHelp(name, spec));
      return 0;
    }
    if (spec.argument && argument === undefined) {
      throw usage(`codexd ${name} needs ${spec.argument}`, `codexd ${name} --help`);
    }
    pretty = flags.pretty === true && flags.json !== true;
    const { output, exitCode } = await spec.run(flags, toOptions(flags), argument);
    if (pretty && name === "pair") {
      // The pairing view loads its QR library lazily, only for a terminal.
      const view = await import("./lib/cli/pairing_view.ts");
      const qr = io.isTerminal() ? await view.loadQrRenderer() : undefined;
      io.out(view.renderPairing(output, qr));
      return exitCode;
    }
    io.out(pretty ? renderPretty(output) : JSON.stringify(output));
    return exitCode;
  } catch (error) {
    // A raw file-system error that escaped still gets a code (never INTERNAL).
    const output = errorOutput((await import("./lib/atomic_file.ts")).codeEscapedError(error));
    io.out(pretty ? renderPretty(output) : JSON.stringify(output));
    // The updater's internal passes record failures in its log (one line each), not on stderr.
    const internal = name === "supervise" || name === "follow-binary" ||
      name === "watch-remote-control" ||
      rest.includes("--updater-pass");
    if (!internal) io.err(`Error: ${stripControl(output.message)}`);
    return output.code === "USAGE" ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
