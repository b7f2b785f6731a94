/**
 * The command line's flags: the table of every option, one parser that turns
 * argv into a typed {@linkcode ParsedFlags}, and the mapping to library
 * options. Pure: no I/O, so it is tested by tables.
 *
 * @module
 */
import type { DaemonOptions } from "../context.ts";
import { CodexdError } from "../errors.ts";

/** How a flag takes its value; `list` flags repeat and collect. */
export type FlagKind = "boolean" | "string" | "number" | "list";

/** One flag of the table. */
export interface FlagSpec {
  kind: FlagKind;
  help: string;
  value?: string;
  /** Words a number flag also accepts, and the number each stands for. */
  words?: Record<string, number>;
}

/** Parsed command-line flags. */
export interface ParsedFlags {
  /** A flag's value: `true` for switches, a string or a number, or every value of a `list` flag. */
  [name: string]: string | number | boolean | string[] | undefined;
}

/** Every flag any command accepts. */
export const FLAGS: Record<string, FlagSpec> = {
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
    value: "N|none",
    // none: NO_GRACE_LIMIT (-1), as in settings.
    words: { none: -1 },
    help: "seconds between SIGTERM and SIGKILL (0-300; none: wait for the drain)",
  },
  "when-idle": { kind: "boolean", help: "wait until no turn is running before stopping" },
  "idle-timeout-seconds": {
    kind: "number",
    value: "N",
    help: "with --when-idle: give up (STILL_BUSY) after N seconds (default 600)",
  },
  now: { kind: "boolean", help: "restart at once even while turns run (they drain for the grace)" },
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
  pin: {
    kind: "boolean",
    help: "with --version: keep this version; the updater installs and runs exactly it",
  },
  unpin: { kind: "boolean", help: "drop the pin and follow the latest release again" },
  "no-auto-update": { kind: "boolean", help: "supervise only; never install updates" },
  "updater-pass": { kind: "boolean", help: "(internal) run as the updater's pass" },
  lines: { kind: "number", value: "N", help: "how many lines to show (also -n N; default 50)" },
  updater: { kind: "boolean", help: "show the updater's log instead of the app-server's" },
  pretty: { kind: "boolean", help: "print a short human-readable summary instead of JSON" },
  json: { kind: "boolean", help: "print JSON even on a terminal" },
  help: { kind: "boolean", help: "show help" },
  "allow-foreign-home": {
    kind: "boolean",
    help: "(root) manage a CODEX_HOME owned by another user",
  },
  force: {
    kind: "boolean",
    help: "stop this home's app-server even when no pid record names it",
  },
  "manual-code": {
    kind: "boolean",
    help: "also ask for a short code a person types (manualPairingCode)",
  },
  "wait-seconds": {
    kind: "number",
    value: "N",
    help: "wait up to N seconds for a device to claim the code",
  },
  "no-remote-control": { kind: "boolean", help: "launch the app-server without remote control" },
  "auto-update": { kind: "boolean", help: "install updates (the default for a managed install)" },
  config: {
    kind: "list",
    value: "key=value",
    help: "codex config override for the app-server launched (also -c; repeatable)",
  },
  enable: { kind: "list", value: "FEATURE", help: "enable a codex feature (repeatable)" },
  disable: { kind: "list", value: "FEATURE", help: "disable a codex feature (repeatable)" },
};

/** A usage error: bad command or flag. */
export function usage(message: string, hint = "codexd --help"): CodexdError {
  return new CodexdError("USAGE", message, hint);
}

/** Short spellings: `-n N` for `--lines`, `-c k=v` for `--config` (as codex spells it). */
const SHORT_FLAGS: Record<string, string> = { "-n": "lines", "-c": "config" };

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
    const long = SHORT_FLAGS[arg];
    if (long !== undefined && allowed.includes(long)) {
      args = [...args.slice(0, i), `--${long}`, ...args.slice(i + 1)];
      arg = `--${long}`;
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
    if (spec.kind === "number" && spec.words && Object.hasOwn(spec.words, raw)) {
      flags[name] = spec.words[raw];
    } else if (spec.kind === "number") {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value) || value < 0) {
        throw usage(`Option --${name} needs a non-negative number, got "${raw}"`);
      }
      flags[name] = value;
    } else if (spec.kind === "list") {
      flags[name] = [...((flags[name] as string[] | undefined) ?? []), raw];
    } else {
      flags[name] = raw;
    }
  }
  return flags;
}

/** Codex's global flags, accepted by every command and passed to the app-server it launches. */
export const CODEX_FLAGS = ["config", "enable", "disable"];

/** Maps parsed flags to library options. */
export function toOptions(flags: ParsedFlags): DaemonOptions {
  const options: DaemonOptions = {};
  if (typeof flags["codex-home"] === "string") options.codexHome = flags["codex-home"];
  if (typeof flags["codex-bin"] === "string") {
    const bin = flags["codex-bin"];
    options.codexBin = bin.startsWith("/") ? bin : `${Deno.cwd()}/${bin}`;
  }
  if (typeof flags["grace-seconds"] === "number") {
    if (flags["grace-seconds"] > 300) throw usage("Option --grace-seconds must be at most 300");
    // -1 ("none"): wait for the drain without limit, never SIGKILL.
    options.graceSeconds = flags["grace-seconds"];
  }
  if (typeof flags["start-timeout-seconds"] === "number") {
    options.startTimeoutMs = flags["start-timeout-seconds"] * 1000;
  }
  if (flags["allow-foreign-home"] === true) options.allowForeignHome = true;
  if (typeof flags["lock-timeout-seconds"] === "number") {
    options.lockTimeoutMs = flags["lock-timeout-seconds"] * 1000;
  }
  const configArgs = codexConfigArgs(flags);
  if (configArgs.length) options.configArgs = configArgs;
  return options;
}

/** Codex's global flags as argv pieces for the app-server, in a stable order. */
export function codexConfigArgs(flags: ParsedFlags): string[] {
  const args: string[] = [];
  for (const [name, flag] of CONFIG_FLAG_ORDER) {
    for (const value of (flags[name] as string[] | undefined) ?? []) args.push(flag, value);
  }
  return args;
}

const CONFIG_FLAG_ORDER = [["config", "-c"], ["enable", "--enable"], ["disable", "--disable"]];
