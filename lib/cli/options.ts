/**
 * The pure half of the command line: the value types of codexd's options
 * (seconds, the grace window, line counts), the mapping from parsed options
 * to library options, and the translation of a parse error into codexd's
 * `USAGE` error with a hint that names the command's own help. No I/O and no
 * Cliffy here, so it is tested by tables; `cli.ts` wires it into the tree.
 *
 * @module
 */
import type { DaemonOptions } from "../server/context.ts";
import { CodexdError } from "../errors.ts";
import { isAbsolute } from "@std/path/posix/is-absolute";
import { join } from "@std/path/posix/join";

/** A usage error: a bad command, option or value (exit code 2). */
export function usage(message: string, hint = "codexd --help"): CodexdError {
  return new CodexdError("USAGE", message, hint);
}

/** What an option type is given: the option's name (`--lines`) and the raw value. */
export interface OptionValue {
  /** `--name` of the option. */
  name: string;
  /** The value as typed. */
  value: string;
}

/** The longest grace window `--grace-seconds` accepts. */
export const MAX_GRACE_SECONDS = 300;
/** `--grace-seconds none`: wait for the drain without limit, never SIGKILL (settings' NO_GRACE_LIMIT). */
export const NO_GRACE = -1;

/** A non-negative number of seconds (or a count): `--start-timeout-seconds 5`. */
export function nonNegative({ name, value }: OptionValue): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number < 0) {
    throw usage(`Option ${name} needs a non-negative number, got "${value}"`);
  }
  return number;
}

/** `--grace-seconds`: 0–300, or `none` for no limit. */
export function graceSeconds(option: OptionValue): number {
  if (option.value === "none") return NO_GRACE;
  const seconds = nonNegative(option);
  if (seconds > MAX_GRACE_SECONDS) {
    throw usage(`Option ${option.name} must be at most ${MAX_GRACE_SECONDS}`);
  }
  return seconds;
}

/** Options every command accepts (Cliffy's camel-cased names). */
export interface GlobalFlags {
  /** `--codex-home DIR`. */
  codexHome?: string;
  /** `--lock-timeout-seconds N`. */
  lockTimeoutSeconds?: number;
  /** `--allow-foreign-home`. */
  allowForeignHome?: boolean;
  /** `-c/--config key=value`, repeatable. */
  config?: string[];
  /** `--enable FEATURE`, repeatable. */
  enable?: string[];
  /** `--disable FEATURE`, repeatable. */
  disable?: string[];
  /** `--pretty`. */
  pretty?: boolean;
  /** `--json`. */
  json?: boolean;
}

/** Options of the commands that launch or wait for an app-server. */
export interface LaunchFlags {
  /** `--codex-bin PATH`. */
  codexBin?: string;
  /** `--grace-seconds N|none`. */
  graceSeconds?: number;
  /** `--start-timeout-seconds N`. */
  startTimeoutSeconds?: number;
}

/**
 * Maps parsed options to library options; a relative `--codex-bin` is taken
 * from `cwd` (asked of Deno only then: every client call comes through here).
 */
export function daemonOptions(flags: GlobalFlags & LaunchFlags, cwd?: string): DaemonOptions {
  const options: DaemonOptions = {};
  if (flags.codexHome !== undefined) options.codexHome = flags.codexHome;
  if (flags.codexBin !== undefined) {
    options.codexBin = isAbsolute(flags.codexBin)
      ? flags.codexBin
      : join(cwd ?? Deno.cwd(), flags.codexBin);
  }
  if (flags.graceSeconds !== undefined) options.graceSeconds = flags.graceSeconds;
  if (flags.startTimeoutSeconds !== undefined) {
    options.startTimeoutMs = flags.startTimeoutSeconds * 1000;
  }
  if (flags.allowForeignHome === true) options.allowForeignHome = true;
  if (flags.lockTimeoutSeconds !== undefined) {
    options.lockTimeoutMs = flags.lockTimeoutSeconds * 1000;
  }
  const configArgs = codexConfigArgs(flags);
  if (configArgs.length) options.configArgs = configArgs;
  return options;
}

/** Codex's global flags as argv pieces for the app-server, in a stable order. */
export function codexConfigArgs(
  flags: Pick<GlobalFlags, "config" | "enable" | "disable">,
): string[] {
  return [
    ...(flags.config ?? []).flatMap((value) => ["-c", value]),
    ...(flags.enable ?? []).flatMap((value) => ["--enable", value]),
    ...(flags.disable ?? []).flatMap((value) => ["--disable", value]),
  ];
}

/** `--when-idle [--idle-timeout-seconds N]` as library options. */
export function whenIdleOptions(
  flags: { whenIdle?: boolean; idleTimeoutSeconds?: number },
): { whenIdle: boolean; idleTimeoutMs?: number } {
  if (flags.idleTimeoutSeconds !== undefined && flags.whenIdle !== true) {
    throw usage("Option --idle-timeout-seconds needs --when-idle");
  }
  return {
    whenIdle: flags.whenIdle === true,
    ...(flags.idleTimeoutSeconds !== undefined
      ? { idleTimeoutMs: flags.idleTimeoutSeconds * 1000 }
      : {}),
  };
}

/**
 * Names an option in `message` as the user typed it: `-n abc` is reported
 * as `-n`, not as `--lines`. `aliases` maps a long flag to its short ones.
 */
export function asTyped(
  message: string,
  args: readonly string[],
  aliases: Readonly<Record<string, readonly string[]>>,
): string {
  let text = message;
  for (const [long, shorts] of Object.entries(aliases)) {
    if (!text.includes(long) || args.some((arg) => arg === long || arg.startsWith(`${long}=`))) {
      continue;
    }
    const typed = shorts.find((short) => args.includes(short));
    if (typed !== undefined) text = text.replaceAll(long, typed);
  }
  return text;
}

/**
 * codexd's `USAGE` error for a parse error: Cliffy's message without its
 * trailing period (it names the suggestion: `Did you mean command "status"?`)
 * and a hint naming the help of the command the error is about.
 */
export function usageFromParse(message: string, commandPath: string): CodexdError {
  return usage(message.replace(/\.$/, ""), `${commandPath} --help`);
}
