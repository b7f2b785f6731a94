/**
 * Spawning the app-server (`lib/server/spawn.ts`): the launch argv, each
 * readiness probe bounded by the time left, and a start that runs out of
 * time leaving nothing running.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { eventually, fakeHome, processesOfHome, runBoundedCli } from "../support/helpers.ts";
import { launchArgs, probeBudgetMs } from "../../lib/server/spawn.ts";
import { defaultSettings } from "../../lib/state/settings.ts";

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
