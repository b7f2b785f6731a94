/**
 * Hardening (issue #10): every wait bounded, every error coded, nothing left
 * behind, no way in through files or /tmp. Black-box through the CLI against
 * the fake app-server, plus table tests of the pure decisions. The tests that
 * need root powers (a second user, tmpfs) live in `hardening_root_test.ts`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import {
  type CliRun,
  cliRun,
  configureFake,
  eventually,
  fakeHome,
  isAlive,
  MOD_TS,
  processesOfHome,
  REPO_ROOT,
  runCli,
} from "./support/helpers.ts";
import { type DirFacts, judgeDir, missingPermissions } from "../lib/server/preflight.ts";
import { shellQuote } from "../lib/errors.ts";
import { validateSettings } from "../lib/state/settings.ts";
import { probeBudgetMs } from "../lib/server/spawn.ts";
import { renderPretty } from "../cli.ts";
import { formatUpdaterLogLine } from "../lib/state/updater_log.ts";

/** A CLI run that is killed (and reported as hung) past `limitMs`. */
type BoundedCliRun = CliRun & { hung: boolean };

/** Runs the CLI with `denoFlags` (default `-A`) and a hard bound, so a hang fails instead of wedging the suite. */
async function runBoundedCli(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; denoFlags?: string[]; limitMs?: number } = {},
): Promise<BoundedCliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoFlags ?? ["-A"]), MOD_TS, ...args],
    env: { CODEX_HOME: home, NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, options.limitMs ?? 30_000);
  try {
    return Object.assign(cliRun(await child.output()), { hung });
  } finally {
    clearTimeout(timer);
  }
}

const FAST_PROBES = { CODEXD_COMMAND_TIMEOUT_MS: "1500" };

// --- 1. helper commands are bounded ----------------------------------------

Deno.test("start fails with BINARY_UNRESPONSIVE when `codex --version` hangs, and leaves nothing behind", async () => {
  await using h = await fakeHome({ hangOnVersion: true });
  const run = await runBoundedCli(h.home, ["start"], { env: FAST_PROBES });
  assert(!run.hung, "start must not hang on a wedged binary");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(run.json.code, "BINARY_UNRESPONSIVE");
  assertMatch(String(run.json.message), /packages\/standalone\/.*codex/);
  assertMatch(String(run.json.message), /--version/);
  assert(typeof run.json.hint === "string");
  assert(
    await eventually(() => processesOfHome(h.home).length === 0, 5_000),
    `the hung --version was killed: ${processesOfHome(h.home)}`,
  );
  // The lock was released: another mutating command gets in at once.
  const stop = await runBoundedCli(h.home, ["stop", "--lock-timeout-seconds", "2"]);
  assertEquals(stop.json.status, "notRunning");
});

Deno.test("start fails with BINARY_UNRESPONSIVE when `codex app-server --help` hangs", async () => {
  await using h = await fakeHome({ hangOnHelp: true });
  const run = await runBoundedCli(h.home, ["start"], { env: FAST_PROBES });
  assert(!run.hung);
  assertEquals(run.json.code, "BINARY_UNRESPONSIVE");
  assertMatch(String(run.json.message), /--help/);
  assert(await eventually(() => processesOfHome(h.home).length === 0, 5_000));
});

Deno.test("status, version and stop answer when the binary hangs: its one --version run is bounded", async () => {
  await using h = await fakeHome({ version: "1.2.3" });
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.json.status, "started", started.stderr);
  const pid = started.json.pid as number;
  // A new binary (an update's) that hangs: the version cache misses.
  await configureFake(h.home, { version: "1.2.3", hangOnVersion: true, hangOnHelp: true });
  const launcher = Deno.realPathSync(`${h.home}/packages/standalone/current/codex`);
  await Deno.writeTextFile(launcher, "\n# changed\n", { append: true });

  // A cold cache costs one bounded `--version` run, killed at the bound.
  const status = await runBoundedCli(h.home, ["status"], { env: FAST_PROBES });
  assert(!status.hung, "status must not wait for the binary");
  assertEquals(status.code, 0, status.stderr);
  assertEquals(status.json.managedCodexVersion, null);
  assertEquals(status.json.appServerVersion, "1.2.3");

  const version = await runBoundedCli(h.home, ["version"], { env: FAST_PROBES });
  assert(!version.hung, "version must not wait for the binary");
  assertEquals(version.json.status, "running");
  assertEquals(version.json.managedCodexVersion, null);

  const stop = await runBoundedCli(h.home, ["stop", "--grace-seconds", "5"], { env: FAST_PROBES });
  assert(!stop.hung, "stop must not wait for the binary");
  assertEquals(stop.json.status, "stopped", stop.stderr);
  assert(!isAlive(pid));
});

// --- 2. permissions checked up front ----------------------------------------

Deno.test("start without -A fails at once with PERMISSION_DENIED and the flags to use", async () => {
  await using h = await fakeHome();
  const run = await runBoundedCli(h.home, ["start"], {
    denoFlags: ["--allow-read", "--allow-write", "--allow-env", "--allow-run"],
  });
  assert(!run.hung, "start without -A must not wait forever");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(run.json.code, "PERMISSION_DENIED");
  assertMatch(String(run.json.message), /--allow-sys/);
  assertMatch(String(run.json.hint), /deno run -A/);
  assertEquals(processesOfHome(h.home), [], "nothing was spawned");
});

Deno.test("the library throws CodexdError PERMISSION_DENIED without -A", async () => {
  await using h = await fakeHome();
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { CodexdError, start } from ${JSON.stringify(MOD_TS)};
try { await start({ codexHome: ${JSON.stringify(h.home)} }); console.log("started"); }
catch (e) { console.log(e instanceof CodexdError ? e.code : "raw " + e); }`,
    );
    const child = await new Deno.Command(Deno.execPath(), {
      // --config: a script outside the checkout resolves the checkout's bare imports (@std/…) by it.
      args: [
        "run",
        "--config",
        `${REPO_ROOT}/deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assertEquals(new TextDecoder().decode(child.stdout).trim(), "PERMISSION_DENIED");
    assertEquals(processesOfHome(h.home), []);
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("missingPermissions() asks for all eight on Linux and four elsewhere", () => {
  const granted = new Set<string>(["read", "write", "env", "run"]);
  const query = (name: string): Deno.PermissionState => granted.has(name) ? "granted" : "prompt";
  assertEquals(missingPermissions("linux", query), ["sys", "net", "ffi", "import"]);
  assertEquals(missingPermissions("darwin", query), []);
  assertEquals(missingPermissions("linux", () => "granted"), []);
});

// --- 14. small visible things ------------------------------------------------

Deno.test("shellQuote() leaves plain paths bare and single-quotes the rest", () => {
  const table: [string, string][] = [
    ["/usr/bin/codex", "/usr/bin/codex"],
    ["/home/a b/codex", "'/home/a b/codex'"],
    ["/tmp/it's", `'/tmp/it'\\''s'`],
    ["/x;rm -rf ~", "'/x;rm -rf ~'"],
    ["$(id)", "'$(id)'"],
  ];
  for (const [input, expected] of table) assertEquals(shellQuote(input), expected, input);
});

// --- 13. settings bounds ------------------------------------------------------

Deno.test("validateSettings() rejects numbers outside each setting's sane range", () => {
  const table: [Record<string, unknown>, string | null][] = [
    [{ updateIntervalMinutes: 1e308 }, "updater.updateIntervalMinutes must be at most 10080"],
    [{ updateIntervalMinutes: 60 }, null],
    [{ updateIntervalMinutes: 0.05 }, null],
    [{ firstPassDelaySeconds: 1e20 }, "updater.firstPassDelaySeconds must be at most 86400"],
    [{ firstPassDelaySeconds: 0 }, null],
    [{ firstPassDelaySeconds: -1 }, "updater.firstPassDelaySeconds must be a non-negative number"],
    [
      { supervision: { checkSeconds: 1e21 } },
      "updater.supervision.checkSeconds must be at most 3600",
    ],
    [{ supervision: { checkSeconds: 5 } }, null],
    [
      { supervision: { backoffBaseSeconds: 1e9 } },
      "updater.supervision.backoffBaseSeconds must be at most 3600",
    ],
    [
      { supervision: { backoffMaxSeconds: 1e9 } },
      "updater.supervision.backoffMaxSeconds must be at most 86400",
    ],
    [
      { supervision: { maxAttempts: 2.5 } },
      "updater.supervision.maxAttempts must be a whole number of at least 1",
    ],
    [{ supervision: { maxAttempts: 1e6 } }, "updater.supervision.maxAttempts must be at most 1000"],
    [{ supervision: { maxAttempts: 8 } }, null],
    [
      { supervision: { stableSeconds: 1e12 } },
      "updater.supervision.stableSeconds must be at most 86400",
    ],
    [
      { supervision: { stableSeconds: 0 } },
      "updater.supervision.stableSeconds must be a positive number",
    ],
  ];
  for (const [updater, error] of table) {
    const result = validateSettings({ updater });
    assertEquals(typeof result === "string" ? result : null, error, JSON.stringify(updater));
  }
});

Deno.test("bootstrap refuses an updater interval that would wedge the loop", async () => {
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({ updater: { updateIntervalMinutes: 1e308 } }),
  );
  const run = await runBoundedCli(h.home, ["bootstrap", "--no-auto-update"]);
  assertEquals(run.json.code, "SETTINGS_INVALID", run.stdout);
  assertMatch(String(run.json.message), /updateIntervalMinutes must be at most/);
  assertEquals(processesOfHome(h.home), []);
});

// --- 14. bounded probes, EPERM, hints, terminal escapes -----------------------

Deno.test("probeBudgetMs() bounds each readiness probe by the time left", () => {
  const table: [number, number, number, number][] = [
    // probeMs, deadline, now, expected
    [2_000, 10_050, 10_000, 50],
    [2_000, 20_000, 10_000, 2_000],
    [2_000, 10_000, 10_000, 1],
    [2_000, 9_000, 10_000, 1],
  ];
  for (const [probeMs, deadline, now, expected] of table) {
    assertEquals(probeBudgetMs(probeMs, deadline, now), expected);
  }
});

Deno.test("start with a short start timeout fails NOT_READY and leaves nothing running", async () => {
  await using h = await fakeHome({ neverReady: true });
  const run = await runBoundedCli(h.home, ["start", "--start-timeout-seconds", "0.05"]);
  assertEquals(run.json.code, "NOT_READY", run.stdout);
  assertMatch(String(run.json.message), /within 50 ms/);
  assert(await eventually(() => processesOfHome(h.home).length === 0, 5_000));
});

Deno.test("logs --pretty and the stderr line carry no terminal control sequences", async () => {
  assertEquals(
    renderPretty({ status: "ok", logPath: "/x", lines: ["\x1b[31mred\x1b[0m", "bell\x07"] }),
    "==> /x <==\nred\nbell",
  );
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  await Deno.writeTextFile(`${h.home}/app-server-daemon/app-server.stderr.log`, "\x1b[2Jwiped\n");
  const run = await runBoundedCli(h.home, ["logs", "--pretty"]);
  assertEquals(run.code, 0);
  assert(!run.stdout.includes("\x1b"), JSON.stringify(run.stdout));
  assertMatch(run.stdout, /wiped/);
  // An error message quoting a hostile path reaches stderr without its escapes.
  const hostile = `${h.home}/\x1b]0;pwned\x07bin`;
  const failed = await runBoundedCli(h.home, ["start", "--codex-bin", hostile]);
  assertEquals(failed.json.code, "BINARY_MISSING");
  assert(!failed.stderr.includes("\x1b"), JSON.stringify(failed.stderr));
});

Deno.test("the chmod hint quotes the binary path for the shell", async () => {
  const parent = await Deno.makeTempDir({ prefix: "codexd hard 'q' " });
  try {
    const bin = `${parent}/codex`;
    await Deno.writeTextFile(bin, "#!/bin/sh\n", { mode: 0o644 });
    await Deno.chmod(bin, 0o644);
    await using h = await fakeHome();
    const run = await runBoundedCli(h.home, ["start", "--codex-bin", bin]);
    assertEquals(run.json.code, "BINARY_NOT_EXECUTABLE");
    assertEquals(run.json.hint, `chmod +x ${shellQuote(bin)}`);
    assert(String(run.json.hint).startsWith("chmod +x '"));
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

// --- 5. ownership and modes ----------------------------------------------------

function modeOf(path: string): number {
  return (Deno.lstatSync(path).mode ?? 0) & 0o777;
}

Deno.test("start under umask 000 tightens the state dir to 0700 and creates every file 0600", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state);
  await Deno.chmod(state, 0o755);
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", 'umask 000; exec "$0" run -A "$1" start', Deno.execPath(), MOD_TS],
    env: { CODEX_HOME: h.home },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const started = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(started.status, "started", new TextDecoder().decode(out.stderr));
  assertEquals(modeOf(state), 0o700);
  const files = [...Deno.readDirSync(state)].filter((e) => e.isFile).map((e) => e.name);
  for (const name of ["daemon.lock", "app-server.pid", "app-server.stderr.log"]) {
    assert(files.includes(name), `${name} exists: ${files}`);
  }
  for (const name of files) {
    assertEquals(modeOf(`${state}/${name}`).toString(8), "600", name);
  }
  assertEquals((await runBoundedCli(h.home, ["stop"])).json.status, "stopped");
});

Deno.test("a CODEX_HOME or state dir writable by others is refused with HOME_UNSAFE", async () => {
  await using h = await fakeHome();
  await Deno.chmod(h.home, 0o777);
  for (const command of ["start", "status", "stop"]) {
    const run = await runBoundedCli(h.home, [command]);
    assertEquals(run.json.code, "HOME_UNSAFE", `${command}: ${run.stdout}`);
    assertMatch(String(run.json.message), /writable by other users/);
    assertMatch(String(run.json.hint), /chmod go-w/);
  }
  await Deno.chmod(h.home, 0o700);
  await Deno.mkdir(`${h.home}/app-server-daemon`);
  await Deno.chmod(`${h.home}/app-server-daemon`, 0o777);
  const run = await runBoundedCli(h.home, ["start"]);
  assertEquals(run.json.code, "HOME_UNSAFE");
  assertEquals(processesOfHome(h.home), [], "nothing was spawned");
});

Deno.test("a CODEX_HOME that is a file is HOME_INVALID, not INTERNAL", async () => {
  const file = await Deno.makeTempFile();
  try {
    for (const command of ["start", "status", "version", "stop"]) {
      const run = await runBoundedCli(file, [command]);
      assertEquals(run.json.code, "HOME_INVALID", `${command}: ${run.stdout}`);
    }
  } finally {
    await Deno.remove(file);
  }
});

// --- 6. no writing through planted symlinks -------------------------------------

Deno.test("a daemon.lock symlink is refused and the file it points to stays untouched", async () => {
  await using h = await fakeHome();
  const precious = `${h.home}/precious.txt`;
  await Deno.writeTextFile(precious, "precious\n");
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  await Deno.symlink(precious, `${h.home}/app-server-daemon/daemon.lock`);
  const run = await runBoundedCli(h.home, ["start"]);
  assertEquals(run.json.code, "HOME_UNSAFE", run.stdout);
  assertMatch(String(run.json.message), /daemon\.lock.*symlink/);
  assertEquals(await Deno.readTextFile(precious), "precious\n");
  assertEquals(processesOfHome(h.home), []);
});

Deno.test("stop replaces a down symlink instead of writing through it", async () => {
  await using h = await fakeHome();
  const precious = `${h.home}/precious.txt`;
  await Deno.writeTextFile(precious, "precious\n");
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state, { mode: 0o700 });
  await Deno.writeTextFile(
    `${state}/settings.json`,
    JSON.stringify({ updater: { enabled: true } }),
  );
  await Deno.symlink(precious, `${state}/down`);
  const run = await runBoundedCli(h.home, ["stop"]);
  assertEquals(run.json.status, "notRunning", run.stdout);
  assertEquals(await Deno.readTextFile(precious), "precious\n");
  assert(Deno.lstatSync(`${state}/down`).isFile, "down is a regular file now");
});

// --- 12. file-system errors are coded ------------------------------------------

Deno.test("a FIFO pid file or settings file never blocks a command and gives a coded error", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state, { mode: 0o700 });
  const mkfifo = async (path: string): Promise<void> => {
    const made = await new Deno.Command("/usr/bin/mkfifo", { args: [path] }).output();
    assert(made.success, "mkfifo");
  };
  await mkfifo(`${state}/app-server.pid`);
  for (const command of ["status", "version", "start", "stop"]) {
    const run = await runBoundedCli(h.home, [command], { limitMs: 20_000 });
    assert(!run.hung, `${command} must not block on a FIFO`);
    assertEquals(run.json.code, "STATE_UNREADABLE", `${command}: ${run.stdout}`);
    assertMatch(String(run.json.message), /app-server\.pid: it is a FIFO/);
  }
  await Deno.remove(`${state}/app-server.pid`);
  await mkfifo(`${state}/settings.json`);
  const start = await runBoundedCli(h.home, ["start"], { limitMs: 20_000 });
  assert(!start.hung);
  assertEquals(start.json.code, "STATE_UNREADABLE", start.stdout);
  const stop = await runBoundedCli(h.home, ["stop"], { limitMs: 20_000 });
  assertEquals(stop.json.status, "notRunning", "stop still works with unreadable settings");
});

Deno.test("settings.json as a directory, too big, or not JSON: coded, and its bytes never echoed", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(`${state}/settings.json`, { recursive: true, mode: 0o700 });
  const dir = await runBoundedCli(h.home, ["start"]);
  assertEquals(dir.json.code, "STATE_UNREADABLE", dir.stdout);
  await Deno.remove(`${state}/settings.json`);
  // 2 MiB of JSON-looking text: refused by size, not parsed.
  await Deno.writeTextFile(`${state}/settings.json`, `{"x":"${"a".repeat(2 * 1024 * 1024)}"}`);
  const big = await runBoundedCli(h.home, ["start"]);
  assertEquals(big.json.code, "STATE_UNREADABLE", big.stdout.slice(0, 300));
  assertMatch(String(big.json.message), /bytes/);
  await Deno.writeTextFile(`${state}/settings.json`, "root:$6$secrethash:19000:0:99999:7:::\n");
  const shadow = await runBoundedCli(h.home, ["start"]);
  assertEquals(shadow.json.code, "SETTINGS_INVALID");
  assert(!shadow.stdout.includes("secrethash"), shadow.stdout);
  assert(!shadow.stderr.includes("secrethash"), shadow.stderr);
});

Deno.test("the library throws CodexdError, never a raw Deno error, for a broken state dir", async () => {
  await using h = await fakeHome();
  const { start, status, CodexdError } = await import("../mod.ts");
  // The state dir is a regular file: every path under it is ENOTDIR.
  await Deno.writeTextFile(`${h.home}/app-server-daemon`, "not a dir\n");
  for (const call of [() => start({ codexHome: h.home }), () => status({ codexHome: h.home })]) {
    try {
      await call();
      assert(false, "expected a failure");
    } catch (error) {
      assert(error instanceof CodexdError, `raw error escaped: ${error}`);
      assert(error.code !== "INTERNAL", error.message);
    }
  }
});

// --- 15. the updater log: one timestamped line per event, no shell noise -----------

Deno.test("the updater log records the loop, each supervised restart and each pass, one line each", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    `${state}/settings.json`,
    JSON.stringify({
      updater: {
        firstPassDelaySeconds: 0,
        supervision: { checkSeconds: 1, backoffBaseSeconds: 1, maxAttempts: 3, stableSeconds: 30 },
      },
    }),
  );
  const boot = await runBoundedCli(h.home, ["bootstrap", "--no-auto-update"]);
  assertEquals(boot.json.status, "bootstrapped", boot.stdout);
  const pid = boot.json.pid as number;
  const log = `${state}/app-server-updater.log`;
  const read = (): string => {
    try {
      return Deno.readTextFileSync(log);
    } catch {
      return "";
    }
  };
  assert(await eventually(() => /update pass: noUpdate/.test(read()), 20_000), read());
  Deno.kill(pid, "SIGKILL");
  assert(
    await eventually(() => /supervise: restarted the app-server/.test(read()), 20_000),
    read(),
  );
  const lines = read().trimEnd().split("\n");
  for (const line of lines) {
    assertMatch(
      line,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S/,
      `timestamped: ${JSON.stringify(line)}`,
    );
  }
  assert(!/cannot open|No such file|can't open/i.test(read()), `no shell noise:\n${read()}`);
  assertEquals(lines.filter((l) => /supervise: restarted/.test(l)).length, 1, read());
  assertEquals(modeOf(log).toString(8), "600");
});

Deno.test("formatUpdaterLogLine() keeps one event on one line", () => {
  const now = new Date("2026-11-25T10:00:00.123Z");
  assertEquals(
    formatUpdaterLogLine("update pass: noUpdate", now),
    "2026-11-25T10:00:00Z update pass: noUpdate\n",
  );
  assertEquals(
    formatUpdaterLogLine("error: NOT_READY: a\nLast lines:\n\x1b[31mx", now),
    "2026-11-25T10:00:00Z error: NOT_READY: a | Last lines: | [31mx\n",
  );
});

// --- 10. logs are capped on failed passes and at every spawn -----------------------

Deno.test("a failed update pass and a spawn both cap the logs", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state, { mode: 0o700 });
  const big = "x".repeat(1023) + "\n";
  const fill = async (file: string): Promise<void> => {
    await Deno.writeTextFile(file, big.repeat(5 * 1024), { mode: 0o600 }); // 5 MiB > 4 MiB cap
  };
  const size = (file: string): number => {
    try {
      return Deno.statSync(file).size;
    } catch {
      return -1;
    }
  };
  await fill(`${state}/app-server.stderr.log`);
  await fill(`${state}/app-server-updater.log`);
  // Nothing answers on port 1: the install fails at once.
  const pass = await runBoundedCli(h.home, [
    "update",
    "--updater-pass",
    "--registry",
    "http://127.0.0.1:1/",
  ]);
  assertEquals(pass.code, 1, pass.stdout);
  assertEquals(pass.json.code, "INSTALL_FAILED");
  assert(size(`${state}/app-server.stderr.log`) < 1024 * 1024, "app-server log capped");
  assert(size(`${state}/app-server.stderr.log.1`) >= 5 * 1024 * 1024, "kept as .1");
  assert(size(`${state}/app-server-updater.log`) < 1024 * 1024, "updater log capped");
  assertMatch(
    Deno.readTextFileSync(`${state}/app-server-updater.log`),
    /update pass: error: INSTALL_FAILED/,
  );

  await fill(`${state}/app-server-updater.log`);
  const started = await runBoundedCli(h.home, ["start"]);
  assertEquals(started.json.status, "started", started.stdout);
  assert(size(`${state}/app-server-updater.log`) < 1024 * 1024, "a spawn caps the updater log too");
  assertEquals((await runBoundedCli(h.home, ["stop"])).json.status, "stopped");
});

Deno.test("the updater loop's liveness check never blocks on a FIFO record", async () => {
  const { UPDATER_LOOP_SCRIPT } = await import("../lib/updater/loop.ts");
  const dir = await Deno.makeTempDir();
  try {
    const made = await new Deno.Command("/usr/bin/mkfifo", { args: [`${dir}/app-server.pid`] })
      .output();
    assert(made.success);
    const functions = UPDATER_LOOP_SCRIPT.slice(
      UPDATER_LOOP_SCRIPT.indexOf("field()"),
      UPDATER_LOOP_SCRIPT.indexOf("next=$(("),
    );
    const out = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `${functions}\napp_alive "$1/app-server.pid" && echo alive || echo dead`,
        "t",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "dead");
    assertEquals(new TextDecoder().decode(out.stderr), "", "no shell noise");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runBounded() kills the whole process group of a command that hangs", async () => {
  const { runBounded } = await import("../lib/process/bounded_command.ts");
  const run = await runBounded("/bin/sh", ["-c", "sleep 300 & echo $!; wait"], { timeoutMs: 300 });
  assert(run.timedOut);
  assertEquals(run.success, false);
  const grandchild = Number(run.stdout.trim());
  assert(grandchild > 1, `the grandchild's pid was printed: ${JSON.stringify(run.stdout)}`);
  assert(await eventually(() => !isAlive(grandchild), 5_000), "the grandchild died with its group");
  const quick = await runBounded("/bin/echo", ["hi"], { timeoutMs: 5_000 });
  assertEquals([quick.success, quick.stdout, quick.timedOut], [true, "hi\n", false]);
});

Deno.test("logs never blocks on a FIFO planted as the log", async () => {
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  const made = await new Deno.Command("/usr/bin/mkfifo", {
    args: [`${h.home}/app-server-daemon/app-server.stderr.log`],
  }).output();
  assert(made.success);
  const run = await runBoundedCli(h.home, ["logs"], { limitMs: 20_000 });
  assert(!run.hung, "logs must not block on a FIFO");
  assertEquals(run.json.lines, []);
});

Deno.test("judgeDir() trusts own and root's private dirs, refuses others' and writable ones", () => {
  const me = { uid: 1000, gid: 1000, allowForeignHome: false };
  const dir = (uid: number, mode: number, extra: Partial<DirFacts> = {}): DirFacts => ({
    isDirectory: true,
    isSymlink: false,
    uid,
    gid: uid,
    mode,
    ...extra,
  });
  const table: [DirFacts, "home" | "state", typeof me, string][] = [
    [dir(1000, 0o700), "home", me, "ok"],
    [dir(1000, 0o755), "home", me, "ok"],
    [dir(0, 0o755), "home", me, "ok"],
    [dir(1000, 0o755), "state", me, "tighten"],
    [dir(1000, 0o777), "home", me, "unsafe"],
    [dir(1000, 0o775, { gid: 50 }), "home", me, "unsafe"],
    [dir(1000, 0o775), "home", me, "ok"], // group-writable by the user's own group
    [dir(2000, 0o700), "home", me, "unsafe"],
    [dir(2000, 0o700), "home", { ...me, uid: 0, gid: 0, allowForeignHome: true }, "ok"],
    [dir(2000, 0o777), "home", { ...me, uid: 0, gid: 0, allowForeignHome: true }, "unsafe"],
    [dir(1000, 0o700, { isSymlink: true }), "state", me, "unsafe"],
    [dir(1000, 0o600, { isDirectory: false }), "home", me, "invalid"],
  ];
  for (const [facts, role, asker, expected] of table) {
    assertEquals(judgeDir("/d", facts, asker, role).kind, expected, JSON.stringify([facts, role]));
  }
});
