/**
 * Fast tests of autostart as commands (`lib/autostart.ts`, `autostart-start`):
 * the entry a unit runs, the file-only `status.autostart` probe, the updater
 * loop's give-up exit under a unit, and — through the CLI on this machine,
 * which was not booted by systemd — `AUTOSTART_UNAVAILABLE`. Unit and plist
 * generation are in `unit_test.ts`, systemd facts in `systemd_test.ts` beside
 * this file; the real boot test is `tests/slow/autostart_reboot_test.ts`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, runCli } from "../support/helpers.ts";
import { renderSystemdUnit, unitFileName } from "../../lib/autostart/unit.ts";
import { autostartFiles, readAutostart } from "../../lib/autostart/read.ts";
import { readSystemdFacts } from "../../lib/autostart/systemd.ts";
import { needs } from "../support/host.ts";
import { autostartEntry } from "../../lib/autostart.ts";
import { SPEC } from "../fixtures/service_spec.ts";

/** These tests need a host that systemd did not boot (they check the refusal there). */
const bootedBySystemd = readSystemdFacts().booted
  ? "this machine was booted by systemd"
  : undefined;

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

/** A user unit for `home` under `dir`'s systemd config, enabled by hand; returns its directory. */
async function plantEnabledUnit(dir: string, home: string): Promise<string> {
  const unitDir = `${dir}/.config/systemd/user`;
  await Deno.mkdir(`${unitDir}/default.target.wants`, { recursive: true });
  await Deno.writeTextFile(`${unitDir}/${unitFileName(home)}`, "[Service]\n");
  await Deno.symlink(
    `../${unitFileName(home)}`,
    `${unitDir}/default.target.wants/${unitFileName(home)}`,
  );
  return unitDir;
}

Deno.test("status reports autostart: null, then the unit once one exists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    const home = `${dir}/.codex`;
    const env = { HOME: dir, USER: "nobody-here" };
    const before = await runCli(home, ["status"], { env });
    assertEquals(before.code, 3);
    assertEquals(before.json.autostart, null);
    const unitDir = await plantEnabledUnit(dir, home);
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
    const unitDir = await plantEnabledUnit(dir, home);
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
