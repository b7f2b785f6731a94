/**
 * Pins: the pure decisions by tables, and black-box CLI runs against the
 * loopback npm registry: `update --version X --pin` survives updater passes,
 * a bare `update` on a pinned host reports `pinned` and changes nothing, a
 * removed pinned release is reinstalled, `--unpin` moves to the latest,
 * `bootstrap --version X --pin` pins, and the reference's pin in its package
 * is read and never fought.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, runCli, TARGET } from "../support/helpers.ts";
import { startTestRegistry } from "../fixtures/test_registry.ts";
import {
  decidePinnedPass,
  type PinnedPassDecision,
  type PinnedPassInput,
  type PinView,
  pinView,
  type ReferenceSelection,
  releaseVersion,
} from "../../lib/state/pin.ts";
import { defaultSettings } from "../../lib/state/settings.ts";

Deno.test("pinView() prefers the external binary, then codexd's pin, then the reference's", () => {
  const pinned = defaultSettings();
  pinned.updater.pinnedVersion = "0.169.0";
  const local = `local-ab12-${TARGET}`;
  const table: [string, boolean, string | undefined, ReferenceSelection | undefined, unknown][] = [
    ["nothing pinned", false, undefined, undefined, null],
    ["codexBin", true, "/usr/bin/codex", undefined, { by: "codexBin", path: "/usr/bin/codex" }],
    ["codexd's pin", true, undefined, undefined, { by: "codexd", version: "0.169.0" }],
    [
      "the reference follows the latest: its marker names current",
      false,
      undefined,
      { release: `0.171.0-${TARGET}`, autoUpdateVersion: `0.171.0-${TARGET}` },
      null,
    ],
    [
      "the reference pinned a local copy (no marker)",
      false,
      undefined,
      { release: local },
      { by: "reference", release: local, version: null },
    ],
    [
      "the reference pinned a release (marker names another)",
      false,
      undefined,
      { release: `0.166.0-${TARGET}`, autoUpdateVersion: `0.171.0-${TARGET}` },
      { by: "reference", release: `0.166.0-${TARGET}`, version: "0.166.0" },
    ],
    ["codexd's pin wins over the reference's", true, undefined, { release: local }, {
      by: "codexd",
      version: "0.169.0",
    }],
  ];
  for (const [name, usePin, codexBin, selection, expected] of table) {
    assertEquals(pinView(usePin ? pinned : defaultSettings(), codexBin, selection), expected, name);
  }
  assertEquals(releaseVersion(`0.170.0-alpha.3-${TARGET}`), "0.170.0-alpha.3");
});

Deno.test("decidePinnedPass() installs the pin on updater passes and changes nothing for a bare update", () => {
  const codexd: PinView = { by: "codexd", version: "1.5.0" };
  const reference: PinView = { by: "reference", release: `local-x-${TARGET}`, version: null };
  const table: [string, PinnedPassInput, PinnedPassDecision][] = [
    ["no pin: latest", { pin: null }, { kind: "install", version: "latest" }],
    ["--version beats a pin", { pin: codexd, version: "2.0.0" }, {
      kind: "install",
      version: "2.0.0",
    }],
    ["updater pass installs the pin", { pin: codexd, updaterPass: true }, {
      kind: "install",
      version: "1.5.0",
    }],
    ["bare update reports", { pin: codexd }, { kind: "report", reason: "pinned to 1.5.0" }],
    ["--unpin follows the latest", { pin: codexd, unpin: true }, {
      kind: "install",
      version: "latest",
    }],
    ["the reference's pin holds an updater pass", { pin: reference, updaterPass: true }, {
      kind: "report",
      reason: `pinned by the reference to local-x-${TARGET}`,
    }],
    ["--unpin cannot drop the reference's pin", { pin: reference, unpin: true }, {
      kind: "report",
      reason: `pinned by the reference to local-x-${TARGET}`,
    }],
  ];
  for (const [name, input, expected] of table) {
    assertEquals(decidePinnedPass(input), expected, name);
  }
});

/** codexd's own updater keys in settings.json (`codexd.updater`, where the reference never reads). */
async function ownUpdaterOf(home: string): Promise<Record<string, unknown>> {
  const raw = JSON.parse(await Deno.readTextFile(`${home}/app-server-daemon/settings.json`));
  return raw.codexd?.updater ?? {};
}

Deno.test("update --pin survives updater passes, a bare update reports pinned, a removed pin is reinstalled, --unpin moves to the latest", async () => {
  await using registry = await startTestRegistry([{ version: "2.0.0" }, { version: "1.5.0" }]);
  await using h = await fakeHome({ version: "1.0.0" });
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  assertEquals((await runCli(h.home, ["start"])).code, 0);

  const usage = await runCli(h.home, ["update", "--pin"], { env });
  assertEquals(usage.code, 2);
  assertEquals(usage.json.code, "USAGE");

  const pin = await runCli(h.home, ["update", "--version", "1.5.0", "--pin"], { env });
  assertEquals(pin.code, 0, pin.stdout + pin.stderr);
  assertEquals(pin.json.status, "updated");
  assertEquals(pin.json.restarted, true);
  assertEquals(pin.json.appServerVersion, "1.5.0");
  assertEquals(pin.json.pin, { by: "codexd", version: "1.5.0" });
  assertEquals(pin.json.pinChanged, true);
  assertEquals(pin.json.changed, true);
  assertEquals(await ownUpdaterOf(h.home), { pinnedVersion: "1.5.0" });

  // The updater's pass (driven directly) keeps 1.5.0 although 2.0.0 is the latest.
  const pass = await runCli(h.home, ["update", "--updater-pass"], { env });
  assertEquals(pass.code, 0, pass.stdout + pass.stderr);
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.appServerVersion, "1.5.0");
  assertEquals(status.json.pin, { by: "codexd", version: "1.5.0" });
  assertEquals(
    (status.json.updater as Record<string, unknown>).lastResult,
    "pinned (pinned to 1.5.0)",
  );

  const bare = await runCli(h.home, ["update"], { env });
  assertEquals(bare.json.status, "pinned");
  assertEquals(bare.json.reason, "pinned to 1.5.0");
  assertEquals(bare.json.changed, false);
  assertMatch(bare.json.message as string, /--unpin/);

  // The pinned release removed by hand: the next pass reinstalls exactly it.
  await Deno.remove(`${h.home}/packages/standalone/releases/1.5.0-${TARGET}`, { recursive: true });
  const tarballs = registry.tarballRequests();
  const repair = await runCli(h.home, ["update", "--updater-pass"], { env });
  assertEquals(repair.code, 0, repair.stdout + repair.stderr);
  assertEquals(registry.tarballRequests(), tarballs + 1, "1.5.0 downloaded again");
  assertEquals(
    await Deno.readLink(`${h.home}/packages/standalone/current`),
    `releases/1.5.0-${TARGET}`,
  );
  assertEquals((await runCli(h.home, ["status"])).json.managedCodexVersion, "1.5.0");

  // --version without --pin on a pinned host warns that the pin stays.
  const unpin = await runCli(h.home, ["update", "--unpin"], { env });
  assertEquals(unpin.code, 0, unpin.stdout + unpin.stderr);
  assertEquals(unpin.json.version, "2.0.0");
  assertEquals(unpin.json.appServerVersion, "2.0.0");
  assertEquals(unpin.json.pin, null);
  assertEquals(unpin.json.pinChanged, true);
  assertEquals(await ownUpdaterOf(h.home), {});
  assertEquals((await runCli(h.home, ["status"])).json.pin, null);
  const after = await runCli(h.home, ["update", "--updater-pass"], { env });
  assertEquals(after.code, 0);
  const last = (await runCli(h.home, ["status"])).json.updater as Record<string, unknown>;
  assertEquals(last.lastResult, "noUpdate");
});

Deno.test("update --version on a pinned host keeps the pin and says so", async () => {
  await using registry = await startTestRegistry([{ version: "2.0.0" }, { version: "1.5.0" }]);
  await using h = await fakeHome({ version: "1.0.0" });
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  await runCli(h.home, ["update", "--version", "1.5.0", "--pin"], { env });
  const moved = await runCli(h.home, ["update", "--version", "2.0.0"], { env });
  assertEquals(moved.code, 0, moved.stdout + moved.stderr);
  assertEquals(moved.json.version, "2.0.0");
  assertEquals(moved.json.pin, { by: "codexd", version: "1.5.0" });
  assertMatch(String(moved.json.warnings), /pinned to 1\.5\.0: the next updater pass moves back/);
  // Idempotent: pinning the pinned version again changes nothing.
  const again = await runCli(h.home, ["update", "--version", "1.5.0", "--pin"], { env });
  assertEquals(again.json.pinChanged, undefined);
  const twice = await runCli(h.home, ["update", "--version", "1.5.0", "--pin"], { env });
  assertEquals(twice.json.status, "pinned");
  assertEquals(twice.json.changed, false);
});

/** Settings whose updater, once bootstrap starts it, stays out of the test's way for an hour. */
async function quietUpdater(home: string): Promise<void> {
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/settings.json`,
    JSON.stringify({
      updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 3600 } },
    }),
  );
}

Deno.test("bootstrap --version X --pin installs X, records the pin and runs X", async () => {
  await using registry = await startTestRegistry([{ version: "2.0.0" }, { version: "1.5.0" }]);
  await using h = await fakeHome({ version: "1.0.0" });
  await quietUpdater(h.home);
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  try {
    const boot = await runCli(h.home, ["bootstrap", "--version", "1.5.0", "--pin"], { env });
    assertEquals(boot.code, 0, boot.stdout + boot.stderr);
    assertEquals(boot.json.installed, true);
    assertEquals(boot.json.appServerVersion, "1.5.0");
    assertEquals(boot.json.pin, { by: "codexd", version: "1.5.0" });
    assertEquals(
      (await ownUpdaterOf(h.home)).pinnedVersion,
      "1.5.0",
    );
    const again = await runCli(h.home, ["bootstrap", "--version", "1.5.0", "--pin"], { env });
    assertEquals(again.json.changed, false, again.stdout);
  } finally {
    await runCli(h.home, ["stop", "--all"]);
  }
});

Deno.test("the reference's pin in its package holds codexd's updater: reported, nothing installed or restarted", async () => {
  await using registry = await startTestRegistry([{ version: "2.0.0" }]);
  await using h = await fakeHome({ version: "1.0.0" });
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const started = await runCli(h.home, ["start"]);
  const pkg = `${h.home}/packages/app-server-daemon`;
  const local = `local-0123abcd-${TARGET}`;
  await Deno.mkdir(`${pkg}/releases/${local}/bin`, { recursive: true });
  await Deno.symlink(`${pkg}/releases/${local}`, `${pkg}/current`);
  const pass = await runCli(h.home, ["update", "--updater-pass"], { env });
  assertEquals(pass.code, 0, pass.stdout + pass.stderr);
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.pin, { by: "reference", release: local, version: null });
  assertEquals(
    (status.json.updater as Record<string, unknown>).lastResult,
    `pinned (pinned by the reference to ${local})`,
  );
  assertEquals(status.json.pid, started.json.pid);
  assertEquals(registry.tarballRequests(), 0);
  const bare = await runCli(h.home, ["update", "--unpin"], { env });
  assertEquals(bare.json.status, "pinned");
  assertMatch(bare.json.message as string, /keeps the reference's selection/);

  // Once the reference follows the latest again (its marker names current), codexd updates.
  await Deno.writeTextFile(`${pkg}/auto-update-version`, local);
  const update = await runCli(h.home, ["update"], { env });
  assertEquals(update.json.version, "2.0.0", update.stdout + update.stderr);
  assert(update.json.changed);
});

Deno.test("bootstrap --pin moves a server running another version once no turn runs", async () => {
  const { configureFake } = await import("../support/helpers.ts");
  await using registry = await startTestRegistry([{ version: "2.0.0" }, { version: "1.5.0" }]);
  await using h = await fakeHome({ version: "1.0.0", activeTurns: 1 });
  await quietUpdater(h.home);
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  try {
    const started = await runCli(h.home, ["start"]);
    const boot = await runCli(h.home, ["bootstrap", "--version", "1.5.0", "--pin"], { env });
    assertEquals(boot.code, 0, boot.stdout + boot.stderr);
    assertEquals(boot.json.pid, started.json.pid, "a running turn is never cut short");
    const pending = boot.json.pendingRestart as Record<string, unknown>;
    assertEquals(pending.reason, "pin 1.0.0 -> 1.5.0");
    await configureFake(h.home, { activeTurns: 0 });
    const applied = await runCli(h.home, ["apply-pending"]);
    assertEquals(applied.json.status, "applied", applied.stdout + applied.stderr);
    assertEquals((await runCli(h.home, ["status"])).json.appServerVersion, "1.5.0");
  } finally {
    await runCli(h.home, ["stop", "--all"]);
  }
});
