/**
 * A real update end to end: codex 0.166.0 installed from the npm registry by
 * `bootstrap --install`, then `update` moves the running app-server to
 * 0.169.0; a second `update` changes nothing.
 *
 * @module
 */
import { assertEquals, assertNotEquals } from "../support/assert.ts";
import { disposableHome, processesOfHome, runCli, TARGET } from "../support/helpers.ts";

const OLD = "0.166.0";
const NEW = "0.169.0";

Deno.test("update moves a running real app-server from 0.166.0 to 0.169.0, then reports noUpdate", async () => {
  await using h = disposableHome(await Deno.makeTempDir({ prefix: "codexd-real-update-" }));
  // Keep the updater's own first pass out of the way of this test's passes.
  await Deno.mkdir(`${h.home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({ updater: { firstPassDelaySeconds: 3600 } }),
  );
  const boot = await runCli(h.home, ["bootstrap", "--install", "--version", OLD]);
  assertEquals(boot.code, 0, boot.stdout + boot.stderr);
  assertEquals(boot.json.installed, true);
  assertEquals(boot.json.appServerVersion, OLD);
  assertEquals(
    await Deno.readLink(`${h.home}/packages/standalone/current`),
    `releases/${OLD}-${TARGET}`,
  );

  const update = await runCli(h.home, ["update", "--version", NEW]);
  console.log(update.stdout.trim());
  assertEquals(update.code, 0, update.stdout + update.stderr);
  assertEquals(update.json.status, "updated");
  assertEquals(update.json.previousVersion, OLD);
  assertEquals(update.json.version, NEW);
  assertEquals(update.json.restarted, true);
  assertEquals(update.json.appServerVersion, NEW);
  assertEquals([update.json.installedVersion, update.json.runningVersion], [NEW, NEW]);
  assertEquals(update.json.changed, true);
  assertNotEquals(update.json.pid, boot.json.pid);
  assertEquals((await runCli(h.home, ["version"])).json.appServerVersion, NEW);

  const again = await runCli(h.home, ["update", "--version", NEW]);
  console.log(again.stdout.trim());
  assertEquals(again.json.status, "noUpdate");
  assertEquals(again.json.restarted, false);
  assertEquals([again.json.installedVersion, again.json.runningVersion, again.json.changed], [
    NEW,
    NEW,
    false,
  ]);
  assertEquals((await runCli(h.home, ["status"])).json.pid, update.json.pid);

  assertEquals((await runCli(h.home, ["stop", "--all"])).json.status, "stopped");
  assertEquals(processesOfHome(h.home), []);
});
