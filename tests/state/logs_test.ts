/**
 * Log files (`lib/state/logs.ts`): capped by copy-and-truncate so their
 * writers keep appending, on failed update passes and at every spawn.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { fakeHome, runBoundedCli } from "../support/helpers.ts";

Deno.test("capLog() copies and truncates a big log so its writer keeps appending", async () => {
  const { capLog, rotateLog } = await import("../../lib/state/logs.ts");
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
