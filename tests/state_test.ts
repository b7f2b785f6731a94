/**
 * Unit tests of settings, the daemon lock, the control socket codec and the
 * platform guard.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./support/assert.ts";
import { acquireDaemonLock, tryAcquireDaemonLock } from "../lib/state/daemon_lock.ts";
import { connectablePath } from "../lib/app_server/socket_path.ts";
import { decodeFrame, encodeClientFrame, handshakeKey } from "../lib/app_server/websocket.ts";
import { parseUserAgentVersion } from "../lib/app_server/handshake.ts";
import { CodexdError } from "../lib/errors.ts";
import { launchArgs } from "../lib/server/spawn.ts";
import { createContext } from "../lib/server/context.ts";
import { daemonPaths } from "../lib/state/paths.ts";
import {
  defaultSettings,
  loadSettings,
  updateSettings,
  validateSettings,
} from "../lib/state/settings.ts";
import { errorOutput, main, run } from "../cli.ts";
import { asTyped, nonNegative } from "../lib/cli/options.ts";

Deno.test("validateSettings() accepts valid settings and names what is wrong", () => {
  const table: [unknown, string | null][] = [
    [{}, null],
    [{ remoteControlEnabled: true, shutdownGraceSeconds: 0 }, null],
    [{ updater: { autoUpdateEnabled: false, updateIntervalMinutes: 5 } }, null],
    [[], "settings must be a JSON object"],
    [{ remoteControlEnabled: "yes" }, "remoteControlEnabled must be a boolean"],
    [
      { shutdownGraceSeconds: 301 },
      "shutdownGraceSeconds must be a number from 0 to 300, or -1 for no limit",
    ],
    [
      { shutdownGraceSeconds: -2 },
      "shutdownGraceSeconds must be a number from 0 to 300, or -1 for no limit",
    ],
    [{ updater: 3 }, "updater must be an object"],
    [
      { updater: { updateIntervalMinutes: 0 } },
      "updater.updateIntervalMinutes must be a positive number",
    ],
    [{ codexBin: "relative/codex" }, "codexBin must be an absolute path"],
  ];
  for (const [input, error] of table) {
    const result = validateSettings(input);
    assertEquals(typeof result === "string" ? result : null, error, JSON.stringify(input));
  }
});

Deno.test("updateSettings() keeps unknown keys and writes atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = daemonPaths(dir);
    assertEquals((await loadSettings(paths)).settings, defaultSettings());
    await Deno.mkdir(paths.stateDir);
    await Deno.writeTextFile(
      paths.settingsFile,
      JSON.stringify({ future: { x: 1 }, updater: { futureKnob: true } }),
    );
    await updateSettings(paths, { remoteControlEnabled: true, updater: { enabled: true } });
    const raw = JSON.parse(await Deno.readTextFile(paths.settingsFile));
    // codexd's own `updater.enabled` lives under `codexd` (the reference ignores it).
    assertEquals(raw, {
      future: { x: 1 },
      remoteControlEnabled: true,
      updater: { futureKnob: true },
      codexd: { updater: { enabled: true } },
    });
    assertEquals([...Deno.readDirSync(paths.stateDir)].map((e) => e.name), ["settings.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadSettings() reports an empty or malformed file as SETTINGS_INVALID", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = daemonPaths(dir);
    await Deno.mkdir(paths.stateDir);
    for (const text of ["", "{", '{"shutdownGraceSeconds":"1"}']) {
      await Deno.writeTextFile(paths.settingsFile, text);
      await assertRejects(
        () => loadSettings(paths),
        (e) => e instanceof CodexdError && e.code === "SETTINGS_INVALID",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("acquireDaemonLock() times out naming the holder's pid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/daemon.lock`;
    const held = await acquireDaemonLock(file);
    assertEquals(await tryAcquireDaemonLock(file), undefined);
    await assertRejects(
      () => acquireDaemonLock(file, { timeoutMs: 30 }),
      (e) =>
        e instanceof CodexdError && e.code === "LOCK_TIMEOUT" &&
        e.message.includes(`held by pid ${Deno.pid}`),
    );
    await held.release();
    const next = await tryAcquireDaemonLock(file);
    assert(next !== undefined);
    await next.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseUserAgentVersion() takes the first token after the slash", () => {
  assertEquals(parseUserAgentVersion("codexd/0.169.0 (Debian 12; x86_64) xterm"), "0.169.0");
  assertEquals(parseUserAgentVersion("codex_app_server_daemon/1.2.3"), "1.2.3");
  assertEquals(parseUserAgentVersion("no-version"), undefined);
  assertEquals(parseUserAgentVersion("name/ "), undefined);
});

Deno.test("encodeClientFrame() and decodeFrame() round-trip every length class", () => {
  for (const length of [0, 5, 125, 126, 65535, 65536, 70000]) {
    const payload = new Uint8Array(length).map((_, i) => i & 0xff);
    const frame = encodeClientFrame(0x1, payload);
    const decoded = decodeFrame(frame);
    assert(decoded !== undefined);
    assertEquals(decoded.size, frame.length);
    assertEquals(decoded.opcode, 1);
    assertEquals(decoded.fin, true);
    assertEquals(decoded.payload, payload);
    assertEquals(decodeFrame(frame.subarray(0, frame.length - 1)), undefined);
  }
});

Deno.test("handshakeKey() is the base64 form of 16 bytes", () => {
  for (let i = 0; i < 20; i++) {
    const key = handshakeKey();
    assertMatch(key, /^[A-Za-z0-9+/]{22}==$/);
    assertEquals(atob(key).length, 16);
  }
});

Deno.test("connectablePath() goes through the symlink only when the path is too long", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const long = `${dir}/${"x".repeat(120)}`;
    await Deno.symlink("/tmp/short.sock", long);
    assertEquals(connectablePath(long), "/tmp/short.sock");
    assertEquals(connectablePath(`${dir}/s.sock`), `${dir}/s.sock`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createContext() rejects non-Unix platforms with UNSUPPORTED_PLATFORM", () => {
  try {
    createContext({ os: "windows", codexHome: "/tmp/x" });
    assert(false, "should throw");
  } catch (error) {
    assert(error instanceof CodexdError);
    assertEquals(error.code, "UNSUPPORTED_PLATFORM");
  }
});

Deno.test("launchArgs() adds --remote-control only when enabled", () => {
  const facts = { version: "1", launchFlags: ["--managed-daemon"] };
  assertEquals(launchArgs(defaultSettings(), facts), [
    "app-server",
    "--listen",
    "unix://",
    "--managed-daemon",
  ]);
  assertEquals(
    launchArgs({ ...defaultSettings(), remoteControlEnabled: true }, facts)[1],
    "--remote-control",
  );
});

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

Deno.test("capLog() copies and truncates a big log so its writer keeps appending", async () => {
  const { capLog, rotateLog } = await import("../lib/state/logs.ts");
  const dir = await Deno.makeTempDir();
  try {
    const log = `${dir}/app.log`;
    const writer = await Deno.open(log, { append: true, create: true });
    await writer.write(new TextEncoder().encode("x".repeat(100)));
    assertEquals(await capLog(log, 1000), false, "small logs stay");
    assertEquals(await capLog(log, 50), true);
    await writer.write(new TextEncoder().encode("after\n"));
    writer.close();
    assertEquals(await Deno.readTextFile(log), "after\n");
    assertEquals((await Deno.stat(`${log}.1`)).size, 100);
    for (let i = 0; i < 5; i++) {
      await Deno.writeTextFile(log, `run ${i}\n`);
      await rotateLog(log);
    }
    assertEquals(await Deno.readTextFile(`${log}.1`), "run 4\n");
    assertEquals(await Deno.readTextFile(`${log}.3`), "run 2\n");
    await assertRejects(() => Deno.stat(`${log}.4`), (e) => e instanceof Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
