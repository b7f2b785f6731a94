/**
 * The `codexd` command line: a @cliffy/command tree whose actions call the
 * library's lifecycle functions, and one place (`main`) that turns their
 * results and every error into one JSON object on stdout, an `Error:` line on
 * stderr and an exit code. Cliffy parses, types values, suggests ("did you
 * mean") and writes help; it never prints an error or exits by itself.
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
// Types only: Cliffy itself is loaded when a command line needs parsing (see `run`).
import type { Command } from "@cliffy/command";
import {
  asTyped,
  daemonOptions,
  type GlobalFlags,
  graceSeconds,
  type LaunchFlags,
  nonNegative,
  usage,
  usageFromParse,
  whenIdleOptions,
} from "./lib/cli/options.ts";
import { errorOutput, renderPretty, stripControl } from "./lib/cli/render.ts";
import type { ProgressReporter } from "./lib/cli/progress.ts";
import { CODEXD_VERSION } from "./lib/version.ts";

export { errorOutput, renderPretty };

/** Exit code of a failed command. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Exit code of `status` when the app-server is stopped. */
export const EXIT_STOPPED = 3;

/** What a run of the tree leaves for {@linkcode main} to print. */
export type Outcome =
  /** A command's result: printed as one JSON object (or `--pretty`). */
  | { kind: "result"; output: Record<string, unknown>; exitCode: number }
  /** Help, the version or a completion script: printed as it is. */
  | { kind: "text"; text: string; exitCode: number };

/** Where the tree's actions hand their outcome. */
export type Report = (outcome: Outcome) => void;

/** Short spellings of long options, for naming an option as it was typed in errors. */
const SHORT_OPTIONS: Record<string, string[]> = { "--lines": ["-n"], "--config": ["-c"] };

const LAUNCH = {
  codexBin: ["--codex-bin <path:string>", "codex binary to launch instead of the managed install"],
  grace: [
    "--grace-seconds <seconds:grace>",
    "seconds between SIGTERM and SIGKILL (0-300; none: wait for the drain)",
  ],
  startTimeout: [
    "--start-timeout-seconds <seconds:seconds>",
    "how long to wait for the app-server to answer (default 10)",
  ],
  source: ["--source <source:source>", "where releases come from (default npm)"],
  version: ["--version <version:string>", "install this version (X.Y.Z) instead of the latest"],
  pin: ["--pin", "with --version: keep this release (updater passes install and run exactly it)"],
  registry: ["--registry <url:string>", "npm registry (default: npm's configuration)"],
  whenIdle: ["--when-idle", "wait until no turn is running before stopping"],
  idleTimeout: [
    "--idle-timeout-seconds <seconds:seconds>",
    "with --when-idle: give up (STILL_BUSY) after N seconds (default 600)",
  ],
} as const;

/** Progress for `update` and `bootstrap --install` on stderr (stdout stays one JSON object). */
async function progress(): Promise<ProgressReporter> {
  return (await import("./lib/cli/progress.ts")).progressReporter();
}

/** The global options as every command's action receives them. */
type Globals = { [K in keyof GlobalFlags]: GlobalFlags[K] };

/** Hands a command's result to {@linkcode main}: one JSON object and an exit code. */
type Result = (output: object, exitCode?: number) => void;

/** The {@linkcode Result} that hands a command's output to `report`. */
function resultOf(report: Report): Result {
  return (output, exitCode = 0) =>
    report({ kind: "result", output: output as Record<string, unknown>, exitCode });
}

/** @cliffy/command, loaded on demand. */
type Cliffy = typeof import("@cliffy/command");

/** A command's own Command: typed with the global options and codexd's value types. */
function commandBase(cliffy: Cliffy) {
  return () =>
    new cliffy.Command<Globals>()
      .type("seconds", nonNegative)
      .type("grace", graceSeconds)
      .type("source", new cliffy.EnumType(["npm", "install-sh"]));
}

/** What `define` starts from: {@linkcode commandBase}'s command. */
type Base = ReturnType<typeof commandBase>;

/** One command of the tree. */
interface CommandEntry {
  /** One line for the overview. */
  summary: string;
  /** Internal (the updater's, the autostart unit's): hidden from the overview. */
  internal?: boolean;
  /**
   * Builds its options and examples — and its action, unless `run` is the
   * action; called only when it runs.
   */
  define(result: Result, report: Report, base: Base): unknown;
  /**
   * The action, for a command whose options are launch options at most: run
   * directly (without Cliffy) when the command is given alone (`codexd
   * version`, `codexd start`: the hot path of every client).
   */
  run?(options: Globals & LaunchFlags, result: Result): Promise<void>;
}

/** Options `stop` and `restart` read beyond the global and launch ones. */
interface EndFlags {
  whenIdle?: boolean;
  idleTimeoutSeconds?: number;
  all?: boolean;
  force?: boolean;
}

/** `codexd stop`, from Cliffy's parse or (given alone) without it. */
async function runStop(o: Globals & LaunchFlags & EndFlags, result: Result): Promise<void> {
  result(
    await (await import("./lib/stop.ts")).stop({
      ...daemonOptions(o),
      ...whenIdleOptions(o),
      all: o.all === true,
      force: o.force === true,
    }),
  );
}

/** `codexd restart`, from Cliffy's parse or (given alone) without it. */
async function runRestart(o: Globals & LaunchFlags & EndFlags, result: Result): Promise<void> {
  result(
    await (await import("./lib/restart.ts")).restart({
      ...daemonOptions(o),
      ...whenIdleOptions(o),
    }),
  );
}

/**
 * Every command, one block each: the summary the overview lists, and
 * `define`, which builds its own options, examples and action (only for the
 * command that runs: codexd's start-up stays small). An action calls the
 * library and hands the result to `result` (or text to `report`).
 */
const COMMANDS: Record<string, CommandEntry> = {
  "start": {
    summary: "Start the app-server if it is not running; return once it answers",
    run: async (o, result) =>
      result(await (await import("./lib/start.ts")).start(daemonOptions(o))),
    define: (_result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.startTimeout)
        .example("start", "codexd start")
        .example("another home", "codexd start --codex-home /srv/codex"),
  },
  "stop": {
    summary: "Stop the app-server: SIGTERM, wait the grace window, then SIGKILL",
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.grace)
        .option("--all", "also stop the updater's whole process group")
        .option("--force", "stop this home's app-server even when no pid record names it")
        .option(...LAUNCH.whenIdle)
        .option(...LAUNCH.idleTimeout)
        .example("stop", "codexd stop")
        .example("a 5 s grace", "codexd stop --grace-seconds 5")
        .example("the updater too", "codexd stop --all")
        .example("once idle", "codexd stop --when-idle --idle-timeout-seconds 1800")
        .action((o) => runStop(o, result)),
    // `codexd stop` alone (half of every client's stop + start) runs without Cliffy.
    run: (o, result) => runStop(o, result),
  },
  "adopt": {
    summary: "Manage this home's app-server that no pid record names (started by hand)",
    define: (result, _report, base) =>
      base()
        .example("adopt", "codexd adopt")
        .action(async (o) =>
          result(await (await import("./lib/adopt.ts")).adopt(daemonOptions(o)))
        ),
  },
  "restart": {
    summary: "Stop the app-server if it runs, then start a fresh one",
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.grace)
        .option(...LAUNCH.startTimeout)
        .option(...LAUNCH.whenIdle)
        .option(...LAUNCH.idleTimeout)
        .example("restart", "codexd restart")
        .example("once idle", "codexd restart --when-idle")
        .action((o) => runRestart(o, result)),
    // `codexd restart` alone runs without Cliffy (its parse and tree cost ~4 ms).
    run: (o, result) => runRestart(o, result),
  },
  "version": {
    summary: "Print the running app-server's version (exit 1 when nothing answers)",
    run: async (o, result) =>
      result(await (await import("./lib/version_command.ts")).version(daemonOptions(o))),
    define: (_result, _report, base) => base().example("version", "codexd version"),
  },
  "enable-remote-control": {
    summary: "Persist remote control on; switch a running app-server live and report its status",
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.grace)
        .option(...LAUNCH.startTimeout)
        .example("enable", "codexd enable-remote-control")
        .action(async (o) =>
          result(
            await (await import("./lib/remote_control.ts")).setRemoteControl(
              true,
              daemonOptions(o),
            ),
          )
        ),
  },
  "disable-remote-control": {
    summary: "Persist remote control off; switch a running app-server live and report its status",
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.grace)
        .option(...LAUNCH.startTimeout)
        .example("disable", "codexd disable-remote-control")
        .action(async (o) =>
          result(
            await (await import("./lib/remote_control.ts")).setRemoteControl(
              false,
              daemonOptions(o),
            ),
          )
        ),
  },
  "pair": {
    summary: "Pair a phone or desktop with this host: print pairing codes (remote control on)",
    define: (result, _report, base) =>
      base()
        .option("--manual-code", "also ask for a short code to type instead of scanning")
        .option(
          "--wait-seconds <seconds:seconds>",
          "wait up to N seconds for a device to claim the code (paired / pairingPending)",
        )
        .example("codes", "codexd pair")
        .example("wait for the phone", "codexd pair --manual-code --wait-seconds 300 --pretty")
        .action(async (o) =>
          result(
            await (await import("./lib/pair.ts")).pair({
              ...daemonOptions(o),
              manualCode: o.manualCode === true,
              ...(o.waitSeconds !== undefined ? { waitSeconds: o.waitSeconds } : {}),
            }),
          )
        ),
  },
  "clients": {
    summary: "List the devices paired with this host",
    define: (result, _report, base) =>
      base()
        .example("list", "codexd clients")
        .action(async (o) =>
          result(await (await import("./lib/pair.ts")).listClients(daemonOptions(o)))
        ),
  },
  "revoke": {
    summary: "Revoke a paired device (its id from: codexd clients)",
    define: (result, _report, base) =>
      base()
        .arguments("<client-id:string>")
        .example("revoke one", "codexd revoke CLIENT_ID")
        .action(async (o, clientId) =>
          result(
            await (await import("./lib/pair.ts")).revokeClient(clientId, daemonOptions(o)),
          )
        ),
  },
  "bootstrap": {
    summary: "Record settings, start the app-server and the self-updating supervisor",
    define: (result, _report, base) =>
      base()
        .option("--remote-control", "launch the app-server with remote control enabled")
        .option("--no-remote-control", "launch the app-server without remote control")
        .option("--auto-update", "install updates (the default for a managed install)")
        .option("--no-auto-update", "supervise only; never install updates")
        .option("--install", "install codex first when it is missing")
        .option(...LAUNCH.source)
        .option(...LAUNCH.version)
        .option(...LAUNCH.pin)
        .option(...LAUNCH.registry)
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.startTimeout)
        .example("remote control on", "codexd bootstrap --remote-control")
        .example("install codex first", "codexd bootstrap --install --remote-control")
        .example(
          "an external codex",
          "codexd bootstrap --codex-bin /usr/local/bin/codex --no-auto-update",
        )
        .example("pin a release", "codexd bootstrap --install --version 0.169.0 --pin")
        .action(async (o) => {
          const { bootstrap } = await import("./lib/bootstrap.ts");
          const reporter = o.install === true ? await progress() : undefined;
          const run = (signal?: AbortSignal): ReturnType<typeof bootstrap> =>
            bootstrap({
              ...daemonOptions(o),
              ...(o.remoteControl !== undefined ? { remoteControl: o.remoteControl } : {}),
              ...(o.autoUpdate !== undefined ? { autoUpdate: o.autoUpdate } : {}),
              install: o.install === true,
              source: o.source,
              version: o.version,
              pin: o.pin === true,
              registry: o.registry,
              onProgress: reporter?.onProgress,
              onStage: reporter?.onStage,
              signal,
            });
          // Signal listeners only when it may install (see lib/process/interrupt.ts).
          if (reporter === undefined) return result(await run());
          try {
            result(await (await import("./lib/process/interrupt.ts")).interruptible(run));
          } finally {
            await reporter.done();
          }
        }),
  },
  "update": {
    summary: "Install the latest release now; restart only if the running version differs",
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.source)
        .option(...LAUNCH.version)
        .option(...LAUNCH.pin)
        .option("--unpin", "drop codexd's pin and follow the latest release again")
        .option(...LAUNCH.registry)
        .option(...LAUNCH.codexBin)
        .option(...LAUNCH.grace)
        .option(...LAUNCH.startTimeout)
        .option("--now", "restart at once even while turns run (they drain for the grace)")
        .option("--updater-pass", "(internal) run as the updater's pass", { hidden: true })
        .example("the latest", "codexd update")
        .example("a version", "codexd update --version 0.169.0")
        .example("pin a version", "codexd update --version 0.169.0 --pin")
        .example("follow the latest again", "codexd update --unpin")
        .example("restart at once", "codexd update --now")
        .action(async (o) => {
          // Two commands behind one name: the user's update, or the updater loop's pass.
          const update = o.updaterPass === true
            ? (await import("./lib/updater/pass.ts")).updaterPass
            : (await import("./lib/update.ts")).update;
          const { interruptible } = await import("./lib/process/interrupt.ts");
          // The updater's pass logs one line per outcome: no progress there.
          const reporter = o.updaterPass === true ? undefined : await progress();
          try {
            result(
              await interruptible((signal) =>
                update({
                  ...daemonOptions(o),
                  source: o.source,
                  version: o.version,
                  pin: o.pin === true,
                  unpin: o.unpin === true,
                  registry: o.registry,
                  now: o.now === true,
                  onProgress: reporter?.onProgress,
                  onStage: reporter?.onStage,
                  signal,
                })
              ),
            );
          } finally {
            await reporter?.done();
          }
        }),
  },
  "supervise": {
    summary: "(internal) one supervision pass of the updater",
    internal: true,
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .action(async (o) =>
          result(await (await import("./lib/updater/supervise.ts")).superviseOnce(daemonOptions(o)))
        ),
  },
  "watch-remote-control": {
    summary: "(internal) one remote-control watchdog pass: switch it off and on when stuck",
    internal: true,
    define: (result, _report, base) =>
      base()
        .action(async (o) =>
          result(
            await (await import("./lib/remote_control/watchdog.ts")).watchRemoteControlOnce(
              daemonOptions(o),
            ),
          )
        ),
  },
  "follow-binary": {
    summary: "(internal) the launched binary changed on disk: restart onto it once no turn runs",
    internal: true,
    define: (result, _report, base) =>
      base()
        .action(async (o) =>
          result(
            await (await import("./lib/updater/follow_binary.ts")).followBinary(daemonOptions(o)),
          )
        ),
  },
  "apply-pending": {
    summary: "(internal) apply a restart an update deferred, once no turn runs",
    internal: true,
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .action(async (o) =>
          result(
            await (await import("./lib/updater/apply_pending.ts")).applyPendingRestart(
              daemonOptions(o),
            ),
          )
        ),
  },
  "enable-autostart": {
    summary:
      "Start this CODEX_HOME's app-server at boot (systemd user unit + linger; macOS LaunchAgent)",
    define: (result, _report, base) =>
      base()
        .option("--remote-control", "launch the app-server with remote control enabled")
        .option(...LAUNCH.codexBin)
        .example("enable", "codexd enable-autostart")
        .example("with remote control", "codexd enable-autostart --remote-control")
        .action(async (o) =>
          result(
            await (await import("./lib/autostart.ts")).enableAutostart({
              ...daemonOptions(o),
              ...(o.remoteControl ? { remoteControl: true } : {}),
            }),
          )
        ),
  },
  "disable-autostart": {
    summary:
      "Stop starting the app-server at boot; remove the unit (a running server keeps running)",
    define: (result, _report, base) =>
      base()
        .example("disable", "codexd disable-autostart")
        .action(async (o) =>
          result(
            await (await import("./lib/autostart.ts")).disableAutostart(daemonOptions(o)),
          )
        ),
  },
  "autostart-start": {
    summary: "(internal) the autostart unit's start command",
    internal: true,
    define: (result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .action(async (o) =>
          result(await (await import("./lib/autostart_service.ts")).serviceStart(daemonOptions(o)))
        ),
  },
  "autostart-stopped": {
    summary: "(internal) the autostart unit's after-stop command",
    internal: true,
    define: (result, _report, base) =>
      base()
        .action(async (o) =>
          result(
            await (await import("./lib/autostart_service.ts")).serviceStopped(daemonOptions(o)),
          )
        ),
  },
  "logs": {
    summary: "Print the tail of the app-server's (or the updater's) stderr log",
    define: (result, _report, base) =>
      base()
        .option("-n, --lines <count:seconds>", "how many lines to show (default 50)")
        .option("--updater", "show the updater's log instead of the app-server's")
        .example("the app-server's log", "codexd logs")
        .example("the updater's, longer", "codexd logs -n 200 --updater")
        .action(async (o) =>
          result(
            await (await import("./lib/log_command.ts")).readLogs({
              ...daemonOptions(o),
              lines: o.lines,
              updater: o.updater === true,
            }),
          )
        ),
  },
  "status": {
    summary: "Report the app-server, its pid record, uptime and the updater (exit 3 when stopped)",
    run: async (o, result) => {
      const output = await (await import("./lib/status.ts")).status(daemonOptions(o));
      result(output, output.status === "running" ? 0 : EXIT_STOPPED);
    },
    define: (_result, _report, base) =>
      base()
        .option(...LAUNCH.codexBin)
        .example("JSON", "codexd status")
        .example("for a person", "codexd status --pretty"),
  },
  "help": {
    summary: "Show the help of codexd or of one command",
    define: (_result, _report, base) =>
      base()
        .arguments("[command:string]")
        .action(async function (_o, name) {
          // As `codexd <name> --help`: an unknown name gets Cliffy's "did you mean" too.
          await this.getMainCommand().parse(name === undefined ? ["--help"] : [name, "--help"]);
        }),
  },
  "completions": {
    summary: "Print a completion script: bash, zsh or fish",
    define: (_result, report, base) =>
      base()
        .arguments("<shell:string> [...words:string]")
        .example("bash", "source <(codexd completions bash)")
        .action(async function (_o, shell, ...words) {
          // Loaded only when asked: the generators are not on the hot path.
          const completions = await import("@cliffy/command/completions");
          if (shell === "complete") {
            // What the generated scripts call for an option's values (`--source <TAB>`).
            await new completions.CompletionsCommand(this.getMainCommand()).noExit()
              .parse(["complete", ...words]);
            return report({ kind: "text", text: "", exitCode: 0 });
          }
          if (shell !== "bash" && shell !== "zsh" && shell !== "fish") {
            throw usage(`Unknown shell "${shell}": bash, zsh or fish`, "codexd completions --help");
          }
          const text = completions.generateShellCompletions(this.getMainCommand(), shell);
          report({ kind: "text", text, exitCode: 0 });
        }),
  },
};

/**
 * The command tree: the root with the global options, and every command of
 * {@linkcode COMMANDS}. Only the commands `wanted` says are fully defined;
 * the others are listed by name and summary (enough for the overview and
 * "did you mean").
 */
function codexdCommand(
  cliffy: Cliffy,
  report: Report,
  wanted: (name: string) => boolean,
): Command {
  const result = resultOf(report);
  const base = commandBase(cliffy);
  const root = new cliffy.Command()
    .name("codexd")
    .version(CODEXD_VERSION)
    .description(
      "Run the Codex app-server as a managed background daemon.\n\n" +
        "Every command prints one JSON object on stdout (--pretty for a readable summary).\n" +
        "Exit codes: 0 ok, 1 failure, 2 usage, 3 status: stopped.",
    )
    .noExit()
    .help({ colors: false, hints: true, types: false })
    .versionOption("-V, --version", "Show codexd's version.", {
      action: () => report({ kind: "text", text: CODEXD_VERSION, exitCode: 0 }),
    })
    .helpOption("-h, --help", "Show this help.", {
      action: function (this: Command) {
        report({ kind: "text", text: this.getHelp(), exitCode: 0 });
      },
    })
    .globalType("seconds", nonNegative)
    .group("Global options")
    .globalOption(
      "--codex-home <dir:string>",
      "CODEX_HOME to manage (default $CODEX_HOME, else ~/.codex)",
    )
    .globalOption("--pretty", "print a short human-readable summary instead of JSON")
    .globalOption("--json", "print JSON (the default; wins over --pretty)")
    .globalOption(
      "-c, --config <setting:string>",
      "codex config override (key=value) for the app-server launched; repeatable",
      { collect: true },
    )
    .globalOption("--enable <feature:string>", "enable a codex feature; repeatable", {
      collect: true,
    })
    .globalOption("--disable <feature:string>", "disable a codex feature; repeatable", {
      collect: true,
    })
    .globalOption(
      "--lock-timeout-seconds <seconds:seconds>",
      "how long to wait for another codexd command (default 75)",
    )
    .globalOption("--allow-foreign-home", "(root) manage a CODEX_HOME owned by another user")
    .group(null)
    .action(function () {
      // `codexd` alone: the overview, as a usage error.
      report({ kind: "text", text: this.getHelp(), exitCode: EXIT_USAGE });
    })
    .reset() as unknown as Command;
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const command =
      (wanted(name) ? entry.define(result, report, base) : new cliffy.Command()) as Command;
    if (wanted(name) && entry.run) {
      const run = entry.run;
      command.action((options) => run(options as unknown as Globals & LaunchFlags, result));
    }
    command.description(entry.summary);
    if (entry.internal) command.hidden();
    root.command(name, command);
  }
  return root;
}

/**
 * Parses `args` with the tree and runs the command they name. Returns what
 * to print; throws a {@linkcode CodexdError} (a parse error is `USAGE`).
 */
export async function run(args: string[]): Promise<Outcome> {
  let outcome: Outcome | undefined;
  const report: Report = (o) => outcome = o;
  // A hot command given alone (`codexd version`) has nothing to parse: it runs without
  // loading Cliffy, which would cost a few milliseconds of start-up on every client call.
  const hot = args.length === 1 && Object.hasOwn(COMMANDS, args[0])
    ? COMMANDS[args[0]].run
    : undefined;
  if (hot !== undefined) {
    await hot({}, resultOf(report));
    return outcome!;
  }
  // Cliffy reads `--codex-home ''` as a missing value; say what is wrong with it instead.
  const home = args.indexOf("--codex-home");
  if ((home >= 0 && args[home + 1] === "") || args.includes("--codex-home=")) {
    (await import("./lib/state/paths.ts")).resolveCodexHome("");
  }
  const cliffy = await import("@cliffy/command");
  // Only the commands named on the command line are built (all for a completion script).
  const named = new Set(args.filter((arg) => Object.hasOwn(COMMANDS, arg)));
  const all = named.has("completions");
  const cli = codexdCommand(cliffy, report, (name) => all || named.has(name));
  try {
    await cli.parse(args);
  } catch (error) {
    const path = commandPath(args);
    if (error instanceof cliffy.ValidationError) {
      throw usageFromParse(
        asTyped(error.message, args, SHORT_OPTIONS),
        error.cmd && error.cmd.getName() !== "help" ? error.cmd.getPath() : path,
      );
    }
    if (isUsage(error) && outcome === undefined) {
      // A value rejected while parsing: name it as typed, hint this command's help.
      throw usage(
        asTyped(error.message, args, SHORT_OPTIONS),
        error.hint === "codexd --help" ? `${path} --help` : error.hint,
      );
    }
    throw error;
  }
  return outcome ?? { kind: "text", text: cli.getHelp(), exitCode: EXIT_USAGE };
}

function isUsage(error: unknown): error is Error & { code: "USAGE"; hint?: string } {
  return error instanceof Error && (error as { code?: unknown }).code === "USAGE";
}

/** `codexd <command>` for the command `args` name, else `codexd`. */
function commandPath(args: string[]): string {
  const name = args[0];
  // `help <name>` is about codexd's commands: its errors hint the overview.
  return name !== undefined && name !== "help" && Object.hasOwn(COMMANDS, name)
    ? `codexd ${name}`
    : "codexd";
}

/** Help text without Cliffy's padding: trailing blanks help nobody. */
function tidy(text: string): string {
  return text.replace(/[ \t]+$/gm, "").replace(/^\n+|\n+$/g, "");
}

/** The updater's internal passes: they record failures in its log, not on stderr. */
const INTERNAL_PASSES = ["supervise", "follow-binary", "watch-remote-control"];

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
  // JSON always, as the reference: clients run `ssh -t` and parse stdout.
  const pretty = args.includes("--pretty") && !args.includes("--json");
  try {
    if (args.length === 0) {
      // stdout is always one JSON object (clients parse it); the overview goes to stderr.
      const overview = await run(["--help"]);
      if (overview.kind === "text") io.err(tidy(overview.text));
      throw usage("No command given", "codexd --help (or: codexd status)");
    }
    const outcome = await run(args);
    if (outcome.kind === "text") {
      const text = tidy(outcome.text);
      if (text !== "") io.out(text);
      return outcome.exitCode;
    }
    if (pretty && args[0] === "pair") {
      // The pairing view loads its QR library lazily, only for a terminal.
      const view = await import("./lib/cli/pairing_view.ts");
      const qr = io.isTerminal() ? await view.loadQrRenderer() : undefined;
      io.out(view.renderPairing(outcome.output, qr));
      return outcome.exitCode;
    }
    io.out(pretty ? renderPretty(outcome.output) : JSON.stringify(outcome.output));
    return outcome.exitCode;
  } catch (error) {
    // A raw file-system error that escaped still gets a code (never INTERNAL).
    const output = errorOutput(
      (await import("./lib/state/fs_errors.ts")).codeEscapedError(error),
    );
    io.out(pretty ? renderPretty(output) : JSON.stringify(output));
    // The updater's internal passes record failures in its log (one line each), not on stderr;
    // --pretty already printed the error for a person.
    const internal = INTERNAL_PASSES.includes(args[0]) || args.includes("--updater-pass");
    if (!internal && !pretty) io.err(`Error: ${stripControl(output.message)}`);
    return output.code === "USAGE" ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
