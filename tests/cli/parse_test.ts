/**
 * The command line (`cli.ts`'s @cliffy/command tree and `lib/cli/options.ts`):
 * unknown commands, options and values are USAGE errors naming a fix; help,
 * version and completions are text; option values parse as typed; codex's
 * global flags pass on; every error is one JSON object, never a stack trace.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, runCli } from "../support/helpers.ts";
import { errorOutput, main, run } from "../../cli.ts";
import { asTyped, codexConfigArgs, graceSeconds, nonNegative } from "../../lib/cli/options.ts";
import { NO_GRACE_LIMIT } from "../../lib/state/settings.ts";
import { CodexdError } from "../../lib/errors.ts";

Deno.test("the command tree rejects unknown commands, options and bad values as USAGE, naming a fix", async () => {
  const table: [string[], RegExp, string][] = [
    [["statsu"], /Did you mean command "status"/, "codexd --help"],
    [["help", "statsu"], /Did you mean command "status"/, "codexd --help"],
    [["stop", "--nope"], /Unknown option "--nope"/, "codexd stop --help"],
    [
      ["stop", "--grace-seconds"],
      /Missing value for option "--grace-seconds"/,
      "codexd stop --help",
    ],
    [
      ["stop", "--grace-seconds", "-1"],
      /--grace-seconds needs a non-negative number/,
      "codexd stop --help",
    ],
    [["stop", "stray"], /No arguments allowed/, "codexd stop --help"],
    [
      ["logs", "-n", "abc"],
      /^Option -n needs a non-negative number, got "abc"$/,
      "codexd logs --help",
    ],
    [["update", "--source", "pip"], /"npm", "install-sh"/, "codexd update --help"],
    [["completions", "tcsh"], /bash, zsh or fish/, "codexd completions --help"],
  ];
  for (const [args, message, hint] of table) {
    try {
      await run(args);
      assert(false, `should reject ${args.join(" ")}`);
    } catch (error) {
      assert(error instanceof CodexdError && error.code === "USAGE", `${args}: ${error}`);
      assertMatch(error.message, message);
      assertEquals(error.hint, hint, args.join(" "));
    }
  }
});

Deno.test("help, version and completions are text; a bare codexd is a usage error", async () => {
  const help = await run(["stop", "--help"]);
  assert(help.kind === "text");
  assertMatch(help.text, /--grace-seconds\s+<seconds>/);
  assert(!help.text.includes("--codex-bin"), "stop has no --codex-bin");
  assertEquals(await run(["--version"]), { kind: "text", text: "0.1.0", exitCode: 0 });
  assertEquals((await run([])).exitCode, 2);
  const bash = await run(["completions", "bash"]);
  assert(bash.kind === "text");
  assertMatch(bash.text, /complete -F _codexd/);
});

Deno.test("nonNegative() and asTyped() name the option as typed", () => {
  assertEquals(nonNegative({ name: "--lines", value: "7" }), 7);
  const table: [string, string[], string][] = [
    ["Option --lines needs a number", ["logs", "-n", "x"], "Option -n needs a number"],
    ["Option --lines needs a number", ["logs", "--lines", "x"], "Option --lines needs a number"],
    ['Option "--config" bad', ["-c", "x"], 'Option "-c" bad'],
  ];
  for (const [message, args, expected] of table) {
    assertEquals(asTyped(message, args, { "--lines": ["-n"], "--config": ["-c"] }), expected);
  }
});

Deno.test("main() prints one JSON error and never a stack trace", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["stop", "--grace-seconds", "9999"], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    isTerminal: () => false,
  });
  assertEquals(code, 2);
  assertEquals(out.length, 1);
  assertEquals(JSON.parse(out[0]).code, "USAGE");
  assertEquals(err, ["Error: Option --grace-seconds must be at most 300"]);
  assertEquals(errorOutput(new Error("boom")), {
    status: "error",
    code: "INTERNAL",
    message: "boom",
  });
});

Deno.test("--grace-seconds none parses as the no-limit grace", () => {
  assertEquals(graceSeconds({ name: "--grace-seconds", value: "none" }), NO_GRACE_LIMIT);
  assertEquals(graceSeconds({ name: "--grace-seconds", value: "7" }), 7);
});

Deno.test("--codex-home '' is refused with USAGE, not taken for ~/.codex", async () => {
  await using h = await fakeHome();
  const run = await runCli(h.home, ["status", "--codex-home", ""], {
    env: { HOME: h.home },
  });
  assertEquals(run.code, 2, run.stdout + run.stderr);
  assertEquals(run.json.code, "USAGE");
  assertMatch(String(run.json.message), /empty CODEX_HOME/);
});

Deno.test("codexd without a command prints one JSON USAGE error (exit 2), the help on stderr", async () => {
  await using h = await fakeHome();
  const run = await runCli(h.home, []);
  assertEquals(run.code, 2);
  assertEquals(run.json.status, "error");
  assertEquals(run.json.code, "USAGE");
  assertMatch(run.stderr, /Usage:\s+codexd\n/);
  // --help still prints the help on stdout, exit 0.
  const help = await runCli(h.home, ["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /Usage:\s+codexd\n/);
});

Deno.test("usage errors exit 2 with a USAGE code", async () => {
  await using h = await fakeHome();
  const unknown = await runCli(h.home, ["frobnicate"]);
  assertEquals(unknown.code, 2);
  assertEquals(unknown.json.code, "USAGE");
  const badFlag = await runCli(h.home, ["start", "--bogus"]);
  assertEquals(badFlag.code, 2);
  assertEquals(badFlag.json.code, "USAGE");
  const badGrace = await runCli(h.home, ["stop", "--grace-seconds", "abc"]);
  assertEquals(badGrace.code, 2);
  const help = await runCli(h.home, ["stop", "--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /--grace-seconds\s+<seconds>/);
  assertMatch(help.stdout, /Examples:/);
});

Deno.test("codexConfigArgs() passes codex's repeatable global flags on in a stable order", () => {
  const flags = { config: ["model=o3", "a.b=1"], enable: ["x"], disable: ["y"] };
  assertEquals(codexConfigArgs(flags), [
    "-c",
    "model=o3",
    "-c",
    "a.b=1",
    "--enable",
    "x",
    "--disable",
    "y",
  ]);
});
