/**
 * Unit tests of the locked commands' one preamble (`lib/server/locked_home.ts`):
 * what the body is handed, when it never runs, and that the lock is released
 * however the body ends. Temp homes only; no process is started.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { CodexdError } from "../../lib/errors.ts";
import { holdsDaemonLock } from "../../lib/state/daemon_lock.ts";
import { daemonPaths } from "../../lib/state/paths.ts";
import { defaultSettings } from "../../lib/state/settings.ts";
import { withLockedHome } from "../../lib/server/locked_home.ts";

async function tempHome(settingsText?: string): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "codexd-locked-home-" });
  if (settingsText !== undefined) {
    const paths = daemonPaths(home);
    await Deno.mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(paths.settingsFile, settingsText);
  }
  return home;
}

Deno.test("withLockedHome() hands the body the settings as read, under the lock", async () => {
  // [settings.json text (undefined: none), how, expected remoteControlEnabled, readable]
  const table: [string | undefined, "strict" | "lenient", boolean, boolean][] = [
    [undefined, "strict", false, true],
    [`{"remoteControlEnabled": true}`, "strict", true, true],
    [`{"remoteControlEnabled": true}`, "lenient", true, true],
    ["not json", "lenient", false, false],
    [`{"shutdownGraceSeconds": 9999}`, "lenient", false, false],
  ];
  for (const [text, how, remote, readable] of table) {
    const home = await tempHome(text);
    try {
      const seen = await withLockedHome({ codexHome: home }, (ctx, settings, settingsReadable) => {
        assert(holdsDaemonLock(ctx.paths.lockFile), "the body runs under daemon.lock");
        return Promise.resolve({ remote: settings.remoteControlEnabled, settingsReadable });
      }, { settings: how });
      assertEquals(seen, { remote, settingsReadable: readable }, `${text} (${how})`);
      assert(!holdsDaemonLock(daemonPaths(home).lockFile), "released after the body");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
  assertEquals(defaultSettings().remoteControlEnabled, false); // the table's defaults
});

Deno.test("withLockedHome() never runs the body on a missing home or malformed settings", async () => {
  const home = await tempHome("not json");
  try {
    const table: [string, "strict" | "lenient", string][] = [
      [`${home}/missing`, "lenient", "HOME_NOT_FOUND"],
      [home, "strict", "SETTINGS_INVALID"],
    ];
    for (const [codexHome, how, code] of table) {
      let ran = false;
      await assertRejects(
        () =>
          withLockedHome({ codexHome }, () => {
            ran = true;
            return Promise.resolve();
          }, { settings: how }),
        (error) => error instanceof CodexdError && error.code === code,
        `${codexHome} (${how}) fails ${code}`,
      );
      assertEquals(ran, false, "the body never ran");
      assert(!holdsDaemonLock(daemonPaths(codexHome).lockFile), "no lock left held");
    }
    // A missing home is not created by the attempt.
    await assertRejects(
      () => Deno.stat(`${home}/missing`),
      (error) => error instanceof Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("withLockedHome() releases the lock when the body throws", async () => {
  const home = await tempHome();
  try {
    await assertRejects(
      () => withLockedHome({ codexHome: home }, () => Promise.reject(new Error("boom"))),
      (error) => error instanceof Error && error.message === "boom",
    );
    // Taken again at once: a lock left held would wait out the bound.
    const again = await withLockedHome(
      { codexHome: home, lockTimeoutMs: 1 },
      () => Promise.resolve("again"),
    );
    assertEquals(again, "again");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
