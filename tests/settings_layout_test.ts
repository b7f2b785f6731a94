/**
 * settings.json shared with the reference: the pure layout (which key lives
 * where) by tables, and the read-then-write migration of files written before
 * the layout. That the reference reads what codexd writes is tested with the
 * real binaries in tests/reference_neighbour_test.ts.
 *
 * @module
 */
import { assertEquals } from "./support/assert.ts";
import { daemonPaths } from "../lib/state/paths.ts";
import {
  codexdUpdaterKeys,
  defaultSettings,
  loadSettings,
  updateSettings,
  validateSettings,
} from "../lib/state/settings.ts";
import { decideFlavour, type HomeFacts } from "../lib/state/home_layout.ts";
import {
  needsMigration,
  referenceGrace,
  referenceInterval,
  settingsOnDisk,
  settingsView,
} from "../lib/state/settings_layout.ts";

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

Deno.test("decideFlavour() picks the reference's package layout only where the package is used or alone", () => {
  const table: [HomeFacts, string][] = [
    [{ standaloneBinary: true, packageBinary: false, packageMarkers: false }, "standalone"],
    [{ standaloneBinary: true, packageBinary: false, packageMarkers: true }, "standalone"],
    [{ standaloneBinary: true, packageBinary: true, packageMarkers: false }, "standalone"],
    [{ standaloneBinary: true, packageBinary: true, packageMarkers: true }, "package"],
    [{ standaloneBinary: false, packageBinary: true, packageMarkers: false }, "package"],
    [{ standaloneBinary: false, packageBinary: true, packageMarkers: true }, "package"],
    [{ standaloneBinary: false, packageBinary: false, packageMarkers: true }, "standalone"],
  ];
  for (const [facts, expected] of table) {
    assertEquals(decideFlavour(facts), expected, JSON.stringify(facts));
  }
});
