/**
 * Files planted in the state folder (issue #10): a `daemon.lock` or `down`
 * symlink is never written through, a FIFO pid record or settings file never
 * blocks a command, a settings.json that is a directory, too big or not JSON
 * gives a coded error without echoing its bytes, and the library throws
 * CodexdError for a broken state folder. Black-box against the fake app-server.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, processesOfHome, runBoundedCli } from "../support/helpers.ts";

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
  const { start, status, CodexdError } = await import("../../mod.ts");
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
