/**
 * Fast tests of autostart: unit and plist generation, naming, the pure
 * decisions (tables), the file-only `status.autostart` probe, the updater
 * loop's give-up exit under a unit, and — through the CLI on this machine,
 * which was not booted by systemd — `AUTOSTART_UNAVAILABLE`. The real boot
 * test is `tests/slow/autostart_reboot_test.ts`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import { fakeHome, runCli } from "../support/helpers.ts";
import {
  execLine,
  exitedAbnormally,
  fnv1a32,
  keepsDownMarker,
  launchctlBootoutArgs,
  launchctlBootstrapArgs,
  launchdDomain,
  launchdLabel,
  quoteExecArg,
  renderLaunchdPlist,
  renderSystemdUnit,
  serviceName,
  type ServiceSpec,
  unitFileName,
} from "../../lib/autostart/unit.ts";
import { autostartFiles, readAutostart } from "../../lib/autostart/read.ts";
import { diagnoseSystemd, readSystemdFacts, systemctlEnv } from "../../lib/autostart/systemd.ts";
import { needs } from "../support/host.ts";
import { autostartEntry } from "../../lib/autostart.ts";
import { runHelper } from "../../lib/autostart/exec.ts";

const SPEC: ServiceSpec = {
  codexHome: "/home/alice/.codex",
  denoPath: "/usr/local/bin/deno",
  entry: "/opt/codexd/mod.ts",
  stateDir: "/home/alice/.codex/app-server-daemon",
  shutdownGraceSeconds: 60,
};

/** These tests need a host that systemd did not boot (they check the refusal there). */
const bootedBySystemd = readSystemdFacts().booted
  ? "this machine was booted by systemd"
  : undefined;

Deno.test("fnv1a32() matches the published FNV-1a test vectors", () => {
  assertEquals(fnv1a32(""), "811c9dc5");
  assertEquals(fnv1a32("a"), "e40c292c");
  assertEquals(fnv1a32("foobar"), "bf9cf968");
});

Deno.test("serviceName() is readable, stable and distinct per CODEX_HOME", () => {
  const table: [string, RegExp][] = [
    ["/home/alice/.codex", /^codexd-home-alice-codex-[0-9a-f]{8}$/],
    ["/srv/Codex Homes/Team #1", /^codexd-srv-codex-homes-team-1-[0-9a-f]{8}$/],
    ["/", /^codexd-[0-9a-f]{8}$/],
    [`/very/${"deep/".repeat(30)}home`, /^codexd-[a-z0-9][a-z0-9-]{0,39}-[0-9a-f]{8}$/],
  ];
  for (const [home, pattern] of table) {
    assertMatch(serviceName(home), pattern, home);
    assertEquals(serviceName(home), serviceName(home));
  }
  // Same slug, different paths: the hash keeps them apart.
  assertNotEquals(serviceName("/a/b.codex"), serviceName("/a/b-codex"));
  assertEquals(unitFileName("/home/alice/.codex"), `${serviceName("/home/alice/.codex")}.service`);
  assertMatch(launchdLabel("/Users/bob/.codex"), /^dev\.codexd\.users-bob-codex-[0-9a-f]{8}$/);
});

Deno.test("quoteExecArg() escapes specifiers and variables and quotes what is not a word", () => {
  const table: [string, string][] = [
    ["/usr/local/bin/deno", "/usr/local/bin/deno"],
    ["--codex-home", "--codex-home"],
    ["/srv/50%/x", "/srv/50%%/x"],
    ["/srv/my home", '"/srv/my home"'],
    ["/srv/$HOME", '"/srv/$$HOME"'],
    ['/srv/"q"\\b', '"/srv/\\"q\\"\\\\b"'],
    ["https://jsr.io/@codexd/daemon/0.1.0/mod.ts", "https://jsr.io/@codexd/daemon/0.1.0/mod.ts"],
  ];
  for (const [input, expected] of table) assertEquals(quoteExecArg(input), expected, input);
  assertEquals(execLine(["/a b", "c"]), '"/a b" c');
});

Deno.test("renderSystemdUnit() starts codexd's supervisor with absolute paths and pinned code", () => {
  const unit = renderSystemdUnit(SPEC);
  const lines = unit.split("\n");
  for (
    const line of [
      "[Service]",
      "Type=forking",
      "PIDFile=/home/alice/.codex/app-server-daemon/autostart.pid",
      'Environment="CODEX_HOME=/home/alice/.codex"',
      `Environment="CODEXD_AUTOSTART_UNIT=${unitFileName(SPEC.codexHome)}"`,
      "ExecStart=/usr/local/bin/deno run -A /opt/codexd/mod.ts autostart-start --codex-home /home/alice/.codex",
      "ExecReload=/usr/local/bin/deno run -A /opt/codexd/mod.ts restart --codex-home /home/alice/.codex",
      "ExecStop=/usr/local/bin/deno run -A /opt/codexd/mod.ts stop --all --codex-home /home/alice/.codex",
      "ExecStopPost=/usr/local/bin/deno run -A /opt/codexd/mod.ts autostart-stopped --codex-home /home/alice/.codex",
      "Restart=on-abnormal",
      "KillMode=process",
      "TimeoutStopSec=90",
      "WantedBy=default.target",
    ]
  ) assert(lines.includes(line), `missing ${line} in\n${unit}`);
  // The pitfalls of the hand-written units this replaces.
  assert(!/RemainAfterExit|Type=oneshot|Restart=always/.test(unit), unit);
  assert(!unit.includes("DENO_DIR"), "the default cache needs no setting");
  assert(
    renderSystemdUnit({ ...SPEC, denoDir: "/srv/deno" }).includes(
      'Environment="DENO_DIR=/srv/deno"',
    ),
  );
  assert(unit.endsWith("\n"));
});

Deno.test("renderSystemdUnit() quotes a CODEX_HOME with spaces, % and $, and rejects newlines", () => {
  const home = "/srv/50% of $team";
  const unit = renderSystemdUnit({
    ...SPEC,
    codexHome: home,
    stateDir: `${home}/app-server-daemon`,
  });
  assert(unit.includes('Environment="CODEX_HOME=/srv/50%% of $team"'), unit);
  assert(unit.includes('--codex-home "/srv/50%% of $$team"'), unit);
  assert(unit.includes("PIDFile=/srv/50%% of $team/app-server-daemon/autostart.pid"), unit);
  let threw = false;
  try {
    renderSystemdUnit({ ...SPEC, codexHome: "/srv/a\nExecStart=/bin/evil" });
  } catch {
    threw = true;
  }
  assert(threw, "a newline in a path must not reach the unit file");
});

Deno.test("renderLaunchdPlist() runs at load, keeps alive only after a failed start, escapes XML", () => {
  const plist = renderLaunchdPlist(
    { ...SPEC, codexHome: "/Users/bob/R&D <codex>" },
    "/Users/bob/R&D <codex>/app-server-daemon/app-server-updater.log",
  );
  assert(plist.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
  assert(plist.includes(`<string>${launchdLabel("/Users/bob/R&D <codex>")}</string>`));
  assert(plist.includes("<string>/Users/bob/R&amp;D &lt;codex&gt;</string>"), plist);
  assert(!plist.includes("R&D"), "unescaped ampersand");
  assertMatch(plist, /<key>RunAtLoad<\/key>\s*<true\/>/);
  assertMatch(plist, /<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
  assertMatch(plist, /<key>AbandonProcessGroup<\/key>\s*<true\/>/);
  const args = [...plist.matchAll(/^ {4}<string>(.*)<\/string>$/gm)].map((m) => m[1]);
  assertEquals(args.slice(0, 5), [
    "/usr/local/bin/deno",
    "run",
    "-A",
    "/opt/codexd/mod.ts",
    "autostart-start",
  ]);
});

Deno.test("launchd commands: gui domain with a GUI login, user domain over SSH", () => {
  assertEquals(launchdDomain(501, true), "gui/501");
  assertEquals(launchdDomain(501, false), "user/501");
  assertEquals(launchctlBootstrapArgs("user/501", "/p.plist"), [
    "bootstrap",
    "user/501",
    "/p.plist",
  ]);
  assertEquals(launchctlBootoutArgs("gui/501", "dev.codexd.x"), [
    "bootout",
    "gui/501/dev.codexd.x",
  ]);
});

Deno.test("exitedAbnormally() matches Restart=on-abnormal", () => {
  const table: [string | undefined, string | undefined, boolean][] = [
    [undefined, undefined, false], // systemctl stop while it ran
    ["exited", "0", false],
    ["exited", "3", false], // supervision gave up: failed, not restarted
    ["killed", "TERM", false], // a user's stop --all
    ["killed", "HUP", false],
    ["killed", "KILL", true],
    ["killed", "SEGV", true],
    ["dumped", "ABRT", true],
  ];
  for (const [code, status, expected] of table) {
    assertEquals(exitedAbnormally(code, status), expected, `${code} ${status}`);
  }
});

Deno.test("keepsDownMarker() keeps a user's stop only across a restart within this boot", () => {
  const boot = "0c5a7b52-1f0e-4c1e-9d7e-3f2b1a9c8d7e";
  assertEquals(keepsDownMarker(undefined, boot), false); // boot or systemctl start
  assertEquals(keepsDownMarker(`${boot}\n`, boot), true); // supervisor killed this boot
  assertEquals(keepsDownMarker("another-boot\n", boot), false); // note left by the previous boot
});

Deno.test("diagnoseSystemd() names what is missing and the way out", () => {
  const base = {
    booted: true,
    systemctl: "/usr/bin/systemctl",
    pid1: "systemd",
    wsl: false,
    container: false,
  };
  assertEquals(diagnoseSystemd(base), undefined);
  const table: [Partial<typeof base>, RegExp, RegExp][] = [
    [{ booted: false, pid1: "tini", container: true }, /PID 1 is "tini"/, /entrypoint/],
    [{ booted: false, pid1: "init", wsl: true }, /not booted by systemd/, /wsl\.conf/],
    [{ booted: false, pid1: "runit" }, /\/run\/systemd\/system is missing/, /init system/],
    [{ systemctl: undefined }, /systemctl is not installed/, /apt-get install systemd/],
  ];
  for (const [patch, message, hint] of table) {
    const problem = diagnoseSystemd({ ...base, ...patch });
    assert(problem, JSON.stringify(patch));
    assertMatch(problem.message, message);
    assertMatch(problem.hint, hint);
  }
});

Deno.test("systemctlEnv() sets XDG_RUNTIME_DIR only where it is unset", () => {
  assertEquals(systemctlEnv({}, 1000), { XDG_RUNTIME_DIR: "/run/user/1000" });
  assertEquals(systemctlEnv({ XDG_RUNTIME_DIR: "/run/user/7" }, 1000), {});
});

Deno.test("autostartEntry() pins a local mod.ts path or the versioned URL", () => {
  assertEquals(
    autostartEntry("file:///opt/my%20codexd/lib/autostart.ts"),
    "/opt/my codexd/mod.ts",
  );
  assertEquals(
    autostartEntry("https://jsr.io/@codexd/daemon/0.1.0/lib/autostart.ts"),
    "https://jsr.io/@codexd/daemon/0.1.0/mod.ts",
  );
});

Deno.test("runHelper() kills a helper at its deadline", async () => {
  const run = await runHelper("/bin/sleep", ["30"], { timeoutMs: 100 });
  assertEquals(run.timedOut, true);
  assertEquals(run.success, false);
  const ok = await runHelper("/bin/sh", ["-c", "echo hi"]);
  assertEquals([ok.success, ok.stdout], [true, "hi\n"]);
  const missing = await runHelper("/nonexistent/tool", []);
  assertEquals(missing.success, false);
});

Deno.test("readAutostart() reads the unit, the wants link and linger from files alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    const locations = {
      os: "linux" as const,
      home: dir,
      unitDir: `${dir}/units`,
      lingerDir: `${dir}/linger`,
      user: "alice",
    };
    const home = `${dir}/.codex`;
    assertEquals(readAutostart(home, locations), null);
    const files = autostartFiles(home, locations)!;
    await Deno.mkdir(`${dir}/units/default.target.wants`, { recursive: true });
    await Deno.writeTextFile(files.unit, renderSystemdUnit({ ...SPEC, codexHome: home }));
    assertEquals(readAutostart(home, locations), {
      manager: "systemd-user",
      unit: files.unit,
      enabled: false,
      linger: false,
    });
    await Deno.symlink(files.unit, files.wantsLink!);
    await Deno.mkdir(`${dir}/linger`);
    await Deno.writeTextFile(`${dir}/linger/alice`, "");
    assertEquals(readAutostart(home, locations)?.enabled, true);
    assertEquals(readAutostart(home, locations)?.linger, true);
    // Another home on the same machine has no autostart.
    assertEquals(readAutostart(`${dir}/other`, locations), null);
    assertEquals(readAutostart(home, { ...locations, os: "freebsd" }), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "enable-autostart fails with AUTOSTART_UNAVAILABLE where systemd is not PID 1, changing nothing",
  ...needs(bootedBySystemd),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    const home = `${dir}/.codex`;
    await Deno.mkdir(home); // a missing home is HOME_NOT_FOUND before anything else
    const run = await runCli(home, ["enable-autostart", "--remote-control"], {
      env: { HOME: dir },
    });
    assertEquals(run.code, 1);
    assertEquals(run.json.code, "AUTOSTART_UNAVAILABLE");
    assertMatch(String(run.json.message), /not booted by systemd|systemctl is not installed/);
    assert(typeof run.json.hint === "string" && run.json.hint.length > 0);
    // (multiline: a fresh DENO_DIR under this HOME may first log its jsr: downloads)
    assertMatch(run.stderr, /^Error: Cannot enable autostart/m);
    // Nothing written: no unit, no settings.
    // (deno's own module cache follows HOME into .cache)
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== ".cache");
    assertEquals(left, [".codex"]);
    assertEquals([...Deno.readDirSync(home)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status reports autostart: null, then the unit once one exists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    const home = `${dir}/.codex`;
    const env = { HOME: dir, USER: "nobody-here" };
    const before = await runCli(home, ["status"], { env });
    assertEquals(before.code, 3);
    assertEquals(before.json.autostart, null);
    const unitDir = `${dir}/.config/systemd/user`;
    await Deno.mkdir(`${unitDir}/default.target.wants`, { recursive: true });
    await Deno.writeTextFile(`${unitDir}/${unitFileName(home)}`, "[Service]\n");
    await Deno.symlink(
      `../${unitFileName(home)}`,
      `${unitDir}/default.target.wants/${unitFileName(home)}`,
    );
    const after = await runCli(home, ["status"], { env });
    assertEquals(after.json.autostart, {
      manager: "systemd-user",
      unit: `${unitDir}/${unitFileName(home)}`,
      enabled: true,
      linger: false,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "disable-autostart without a user manager removes the unit files and says so",
  ...needs(bootedBySystemd),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    const home = `${dir}/.codex`;
    const env = { HOME: dir };
    const none = await runCli(home, ["disable-autostart"], { env });
    assertEquals([none.code, none.json.status, none.json.autostart], [0, "alreadyDisabled", null]);
    const unitDir = `${dir}/.config/systemd/user`;
    await Deno.mkdir(`${unitDir}/default.target.wants`, { recursive: true });
    await Deno.writeTextFile(`${unitDir}/${unitFileName(home)}`, "[Service]\n");
    await Deno.symlink(
      `../${unitFileName(home)}`,
      `${unitDir}/default.target.wants/${unitFileName(home)}`,
    );
    const run = await runCli(home, ["disable-autostart"], { env });
    assertEquals([run.code, run.json.status, run.json.autostart], [0, "disabled", null]);
    assertMatch(String((run.json.warnings as string[])[0]), /removed the unit files only/);
    assertEquals([...Deno.readDirSync(`${unitDir}/default.target.wants`)], []);
    assertEquals([...Deno.readDirSync(unitDir)].map((e) => e.name), ["default.target.wants"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the updater loop, as a unit's main process, exits 3 once supervision gave up", async () => {
  const { UPDATER_LOOP_SCRIPT } = await import("../../lib/updater/loop.ts");
  const state = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      UPDATER_LOOP_SCRIPT,
      "loop",
      state,
      "/bin/false",
      "/nonexistent",
      state,
      "1",
      "3600",
      "3600",
      "",
    ],
    env: { CODEXD_AUTOSTART_UNIT: "codexd-test.service" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    // The loop checks its record after its first 1 s sleep.
    await Deno.writeTextFile(`${state}/app-server-updater.pid`, `{"pid":${child.pid}}\n`);
    await Deno.writeTextFile(`${state}/down`, "supervision gave up after 8 restarts\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const out = await child.output();
    clearTimeout(timer);
    assertEquals(out.code, 3);
    assertMatch(new TextDecoder().decode(out.stderr), /shows failed/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await Deno.remove(state, { recursive: true });
  }
});

/** Settings of a home under supervision with a quiet updater (no update pass soon). */
async function supervisedSettings(home: string): Promise<void> {
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/settings.json`,
    JSON.stringify({
      updater: { enabled: true, autoUpdateEnabled: false, firstPassDelaySeconds: 3600 },
    }),
  );
}

Deno.test("autostart-start starts the app-server and the supervisor and writes its plain pid file", async () => {
  await using h = await fakeHome();
  await supervisedSettings(h.home);
  const run = await runCli(h.home, ["autostart-start"]);
  assertEquals([run.code, run.json.status], [0, "started"], run.stdout + run.stderr);
  const pidFile = await Deno.readTextFile(`${h.home}/app-server-daemon/autostart.pid`);
  assertEquals(pidFile, `${run.json.updaterPid}\n`);
  const now = (await runCli(h.home, ["status"])).json;
  assertEquals((now.updater as Record<string, unknown>).pid, run.json.updaterPid);
  // Again (systemctl start of an active unit never does this, but a restart may): the
  // same supervisor, the running app-server kept.
  const again = await runCli(h.home, ["autostart-start"]);
  assertEquals([again.json.status, again.json.updaterPid], ["alreadyRunning", run.json.updaterPid]);
});

Deno.test("autostart-start keeps a user's stop only after the supervisor was killed this boot", async () => {
  await using h = await fakeHome();
  await supervisedSettings(h.home);
  const state = `${h.home}/app-server-daemon`;
  await Deno.writeTextFile(`${state}/down`, "stopped\n");
  // autostart-stopped after SIGKILL of the supervisor leaves the note.
  const noted = await runCli(h.home, ["autostart-stopped"], {
    env: { EXIT_CODE: "killed", EXIT_STATUS: "KILL" },
  });
  assertEquals(noted.json.status, "noted");
  const kept = await runCli(h.home, ["autostart-start"]);
  assertEquals([kept.code, kept.json.status], [0, "down"], kept.stdout + kept.stderr);
  assert(typeof kept.json.updaterPid === "number");
  assertEquals((await runCli(h.home, ["status"])).code, 3);
  await Deno.stat(`${state}/down`);
  // The note is consumed: the next start (a boot, a systemctl start) clears down.
  const clean = await runCli(h.home, ["autostart-stopped"], {
    env: { EXIT_CODE: "killed", EXIT_STATUS: "TERM" },
  });
  assertEquals(clean.json.status, "clean");
  const started = await runCli(h.home, ["autostart-start"]);
  assertEquals(started.json.status, "started", started.stdout + started.stderr);
  assertEquals((await runCli(h.home, ["status"])).code, 0);
});

Deno.test("ensureLinger() reports a refusal as linger: false with the fix, never throws", async () => {
  const { ensureLinger } = await import("../../lib/autostart/systemd.ts");
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    await Deno.writeTextFile(`${dir}/bob`, "");
    assertEquals(await ensureLinger("bob", { lingerDir: dir }), { linger: true });
    // No logind answers here (or the user does not exist): refused.
    const refused = await ensureLinger("codexd-no-such-user", {
      lingerDir: dir,
      loginctlTimeoutMs: 10_000,
    });
    assertEquals(refused.linger, false);
    assertMatch(refused.warning ?? "", /Fix: sudo loginctl enable-linger codexd-no-such-user$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("autostart-start leaves a failed app-server start to supervision instead of failing the unit", async () => {
  await using h = await fakeHome();
  await supervisedSettings(h.home);
  await Deno.remove(`${h.home}/packages/standalone/current`);
  const run = await runCli(h.home, ["autostart-start"]);
  assertEquals([run.code, run.json.status], [0, "retrying"], run.stdout + run.stderr);
  assertMatch(
    String((run.json.warnings as string[])[0]),
    /^BINARY_MISSING: .*supervision retries$/,
  );
  assert(typeof run.json.updaterPid === "number");
  const now = (await runCli(h.home, ["status"])).json;
  assertEquals((now.updater as Record<string, unknown>).running, true);
});
