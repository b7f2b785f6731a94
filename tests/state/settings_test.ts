/**
 * settings.json (`lib/state/settings.ts`, `lib/state/settings_layout.ts`):
 * validation by tables (every key, each number's sane range, the restart
 * deadline and window, the pin), reading and writing (unknown keys kept,
 * atomic, an empty or malformed file SETTINGS_INVALID), and the layout
 * shared with the reference — which key lives where, by tables, and the
 * read-then-write migration of files written before the layout. That the
 * reference reads what codexd writes is tested with the real binaries in
 * tests/server/reference_neighbour_test.ts.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { fakeHome, processesOfHome, runBoundedCli } from "../support/helpers.ts";
import { CodexdError } from "../../lib/errors.ts";
import { daemonPaths } from "../../lib/state/paths.ts";
import {
  codexdUpdaterKeys,
  defaultSettings,
  loadSettings,
  NO_GRACE_LIMIT,
  updateSettings,
  validateSettings,
} from "../../lib/state/settings.ts";
import {
  needsMigration,
  referenceGrace,
  referenceInterval,
  settingsOnDisk,
  settingsView,
} from "../../lib/state/settings_layout.ts";

Deno.test("referenceGrace() and referenceInterval() give values the reference accepts", () => {
  const grace: [number, number][] = [[-1, 300], [0, 0], [2.5, 3], [60, 60], [300, 300]];
  for (const [value, expected] of grace) assertEquals(referenceGrace(value), expected, `${value}`);
  const interval: [number, number][] = [[0.05, 1], [1, 1], [1.5, 2], [60, 60]];
  for (const [value, expected] of interval) {
    assertEquals(referenceInterval(value), expected, `${value}`);
  }
});

Deno.test("settingsOnDisk() keeps shared keys in the reference's form and codexd's own under codexd", () => {
  const own = codexdUpdaterKeys();
  const table: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["plain values stay shared", {
      remoteControlEnabled: true,
      shutdownGraceSeconds: 30,
      updater: { autoUpdateEnabled: false, updateIntervalMinutes: 15 },
    }, {
      remoteControlEnabled: true,
      shutdownGraceSeconds: 30,
      updater: { autoUpdateEnabled: false, updateIntervalMinutes: 15 },
    }],
    ["no limit", { shutdownGraceSeconds: -1 }, {
      shutdownGraceSeconds: 300,
      codexd: { shutdownGraceSeconds: -1 },
    }],
    ["fractional grace and interval", {
      shutdownGraceSeconds: 2.5,
      updater: { updateIntervalMinutes: 0.05 },
    }, {
      shutdownGraceSeconds: 3,
      updater: { updateIntervalMinutes: 1 },
      codexd: { shutdownGraceSeconds: 2.5, updater: { updateIntervalMinutes: 0.05 } },
    }],
    ["codexd-only keys move", {
      codexBin: "/opt/codex",
      future: 1,
      updater: {
        enabled: true,
        source: "npm",
        supervision: { maxAttempts: 3 },
        restartWindow: "02:00-04:00",
        futureKnob: 2,
      },
    }, {
      future: 1,
      updater: { futureKnob: 2 },
      codexd: {
        codexBin: "/opt/codex",
        updater: {
          enabled: true,
          source: "npm",
          supervision: { maxAttempts: 3 },
          restartWindow: "02:00-04:00",
        },
      },
    }],
  ];
  // The reference's own valid value stays beside codexd's.
  assertEquals(
    settingsOnDisk(
      { shutdownGraceSeconds: -1, updater: { updateIntervalMinutes: 0.5 } },
      { shutdownGraceSeconds: 45, updater: { updateIntervalMinutes: 30 } },
      own,
    ),
    {
      shutdownGraceSeconds: 45,
      updater: { updateIntervalMinutes: 30 },
      codexd: { shutdownGraceSeconds: -1, updater: { updateIntervalMinutes: 0.5 } },
    },
  );
  for (const [name, view, disk] of table) {
    assertEquals(settingsOnDisk(view, {}, own), disk, name);
    // And the disk form reads back as the same view.
    assertEquals(validateSettings(disk), validateSettings(view), `${name} (read back)`);
  }
});

Deno.test("settingsView() lets codexd's own values win over the shared keys", () => {
  assertEquals(
    settingsView({
      shutdownGraceSeconds: 300,
      updater: { autoUpdateEnabled: true, updateIntervalMinutes: 1 },
      codexd: { shutdownGraceSeconds: -1, updater: { updateIntervalMinutes: 0.5, enabled: true } },
    }),
    {
      shutdownGraceSeconds: -1,
      updater: { autoUpdateEnabled: true, updateIntervalMinutes: 0.5, enabled: true },
    },
  );
  assertEquals(validateSettings({ codexd: 5 }), "codexd must be an object");
});

Deno.test("updateSettings() migrates a file written before the shared layout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = daemonPaths(dir);
    await Deno.mkdir(paths.stateDir);
    const old = {
      remoteControlEnabled: false,
      shutdownGraceSeconds: -1,
      codexBin: "/opt/codex",
      keep: "me",
      updater: { enabled: true, source: "install-sh", updateIntervalMinutes: 0.5 },
    };
    await Deno.writeTextFile(paths.settingsFile, JSON.stringify(old));
    const before = (await loadSettings(paths)).settings;
    assertEquals(before.shutdownGraceSeconds, -1);
    assertEquals(before.codexBin, "/opt/codex");
    assertEquals(before.updater.source, "install-sh");
    await updateSettings(paths, { remoteControlEnabled: true });
    const raw = JSON.parse(await Deno.readTextFile(paths.settingsFile));
    assertEquals(raw, {
      remoteControlEnabled: true,
      shutdownGraceSeconds: 300,
      keep: "me",
      updater: { updateIntervalMinutes: 1 },
      codexd: {
        shutdownGraceSeconds: -1,
        codexBin: "/opt/codex",
        updater: { enabled: true, source: "install-sh", updateIntervalMinutes: 0.5 },
      },
    });
    assertEquals((await loadSettings(paths)).settings, { ...before, remoteControlEnabled: true });
    // Removing codexBin removes it from `codexd` too.
    await updateSettings(paths, { codexBin: null });
    const after = JSON.parse(await Deno.readTextFile(paths.settingsFile));
    assertEquals(after.codexd.codexBin, undefined);
    assertEquals((await loadSettings(paths)).settings.codexBin, undefined);
    assertEquals(defaultSettings().shutdownGraceSeconds, 60);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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

Deno.test("validateSettings() knows the restart deadline, the window and the no-limit grace", () => {
  const table: [unknown, string | null][] = [
    [{ updater: { restartDeadlineMinutes: 0 } }, null],
    [{ updater: { restartDeadlineMinutes: 90 } }, null],
    [{ updater: { restartDeadlineMinutes: -1 } }, "restartDeadlineMinutes"],
    [{ updater: { restartWindow: "02:00-05:00" } }, null],
    [{ updater: { restartWindow: null } }, null],
    [{ updater: { restartWindow: "2am-5am" } }, "restartWindow"],
    [{ updater: { restartWindow: "03:00-03:00" } }, "restartWindow"],
    [{ shutdownGraceSeconds: NO_GRACE_LIMIT }, null],
    [{ shutdownGraceSeconds: -2 }, "shutdownGraceSeconds"],
  ];
  for (const [raw, error] of table) {
    const result = validateSettings(raw);
    if (error === null) assertEquals(typeof result, "object", JSON.stringify(raw));
    else assertEquals(typeof result === "string" && result.includes(error), true, String(result));
  }
  const defaults = validateSettings({});
  assertEquals(typeof defaults === "object" && defaults.updater.restartDeadlineMinutes, 1440);
});

Deno.test("validateSettings() accepts an exact pinnedVersion and a boolean followBinary only", async () => {
  const { validateSettings } = await import("../../lib/state/settings.ts");
  const table: [Record<string, unknown>, string | RegExp][] = [
    [{ pinnedVersion: "0.169.0" }, "0.169.0"],
    [{ pinnedVersion: "0.170.0-alpha.3" }, "0.170.0-alpha.3"],
    [{ pinnedVersion: "latest" }, /updater\.pinnedVersion must be an exact version/],
    [{ pinnedVersion: "../../x" }, /updater\.pinnedVersion must be an exact version/],
    [{ pinnedVersion: 169 }, /updater\.pinnedVersion must be an exact version/],
    [{ followBinary: "no" }, /updater\.followBinary must be a boolean/],
  ];
  for (const [updater, expected] of table) {
    const result = validateSettings({ updater });
    if (typeof expected === "string") {
      assert(typeof result !== "string", result as string);
      assertEquals(result.updater.pinnedVersion, expected);
    } else {
      assertMatch(result as string, expected);
    }
  }
  const plain = validateSettings({});
  assert(typeof plain !== "string");
  assertEquals(plain.updater.followBinary, true);
  assertEquals(plain.updater.pinnedVersion, undefined);
});

Deno.test("needsMigration() finds codexd's values where the reference reads, and only those", () => {
  const own = codexdUpdaterKeys();
  const table: [Record<string, unknown>, boolean][] = [
    [{}, false],
    [{ remoteControlEnabled: true, shutdownGraceSeconds: 60 }, false],
    [{ updater: { autoUpdateEnabled: true, updateIntervalMinutes: 60 } }, false],
    [{ codexd: { shutdownGraceSeconds: -1, updater: { enabled: true } } }, false],
    [{ shutdownGraceSeconds: -1 }, true],
    [{ shutdownGraceSeconds: 2.5 }, true],
    [{ codexBin: "/usr/bin/codex" }, true],
    [{ updater: { enabled: true } }, true],
    [{ updater: { pinnedVersion: "0.169.0" } }, true],
    [{ updater: { updateIntervalMinutes: 0.5 } }, true],
  ];
  for (const [raw, expected] of table) {
    assertEquals(needsMigration(raw, own), expected, JSON.stringify(raw));
    // Where it says so, the full rewrite it guards does change the file.
    const rewritten = JSON.stringify(settingsOnDisk(settingsView(raw), raw, own)) !==
      JSON.stringify(raw);
    if (expected) assertEquals(rewritten, true, JSON.stringify(raw));
  }
});
