/**
 * The managed binary's facts (`lib/server/managed_binary.ts`): its
 * `--version` and `app-server --help` runs are bounded, so a binary that
 * hangs fails `start` with BINARY_UNRESPONSIVE and leaves nothing behind,
 * while `status`, `version` and `stop` still answer; a binary that cannot
 * run gets a hint quoted for the shell. Black-box through the CLI against the
 * fake app-server (issue #10).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  configureFake,
  eventually,
  fakeHome,
  isAlive,
  processesOfHome,
  runBoundedCli,
  runCli,
} from "../support/helpers.ts";
import { shellQuote } from "../../lib/errors.ts";

const FAST_PROBES = { CODEXD_COMMAND_TIMEOUT_MS: "1500" };

Deno.test("start fails with BINARY_UNRESPONSIVE when `codex --version` hangs, and leaves nothing behind", async () => {
  await using h = await fakeHome({ hangOnVersion: true });
  const run = await runBoundedCli(h.home, ["start"], { env: FAST_PROBES });
  assert(!run.hung, "start must not hang on a wedged binary");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(run.json.code, "BINARY_UNRESPONSIVE");
  assertMatch(String(run.json.message), /packages\/standalone\/.*codex/);
  assertMatch(String(run.json.message), /--version/);
  assert(typeof run.json.hint === "string");
  assert(
    await eventually(() => processesOfHome(h.home).length === 0, 5_000),
    `the hung --version was killed: ${processesOfHome(h.home)}`,
  );
  // The lock was released: another mutating command gets in at once.
  const stop = await runBoundedCli(h.home, ["stop", "--lock-timeout-seconds", "2"]);
  assertEquals(stop.json.status, "notRunning");
});

Deno.test("start fails with BINARY_UNRESPONSIVE when `codex app-server --help` hangs", async () => {
  await using h = await fakeHome({ hangOnHelp: true });
  const run = await runBoundedCli(h.home, ["start"], { env: FAST_PROBES });
  assert(!run.hung);
  assertEquals(run.json.code, "BINARY_UNRESPONSIVE");
  assertMatch(String(run.json.message), /--help/);
  assert(await eventually(() => processesOfHome(h.home).length === 0, 5_000));
});

Deno.test("status, version and stop answer when the binary hangs: its one --version run is bounded", async () => {
  await using h = await fakeHome({ version: "1.2.3" });
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.json.status, "started", started.stderr);
  const pid = started.json.pid as number;
  // A new binary (an update's) that hangs: the version cache misses.
  await configureFake(h.home, { version: "1.2.3", hangOnVersion: true, hangOnHelp: true });
  const launcher = Deno.realPathSync(`${h.home}/packages/standalone/current/codex`);
  await Deno.writeTextFile(launcher, "\n# changed\n", { append: true });

  // A cold cache costs one bounded `--version` run, killed at the bound.
  const status = await runBoundedCli(h.home, ["status"], { env: FAST_PROBES });
  assert(!status.hung, "status must not wait for the binary");
  assertEquals(status.code, 0, status.stderr);
  assertEquals(status.json.managedCodexVersion, null);
  assertEquals(status.json.appServerVersion, "1.2.3");

  const version = await runBoundedCli(h.home, ["version"], { env: FAST_PROBES });
  assert(!version.hung, "version must not wait for the binary");
  assertEquals(version.json.status, "running");
  assertEquals(version.json.managedCodexVersion, null);

  const stop = await runBoundedCli(h.home, ["stop", "--grace-seconds", "5"], { env: FAST_PROBES });
  assert(!stop.hung, "stop must not wait for the binary");
  assertEquals(stop.json.status, "stopped", stop.stderr);
  assert(!isAlive(pid));
});

Deno.test("the chmod hint quotes the binary path for the shell", async () => {
  const parent = await Deno.makeTempDir({ prefix: "codexd hard 'q' " });
  try {
    const bin = `${parent}/codex`;
    await Deno.writeTextFile(bin, "#!/bin/sh\n", { mode: 0o644 });
    await Deno.chmod(bin, 0o644);
    await using h = await fakeHome();
    const run = await runBoundedCli(h.home, ["start", "--codex-bin", bin]);
    assertEquals(run.json.code, "BINARY_NOT_EXECUTABLE");
    assertEquals(run.json.hint, `chmod +x ${shellQuote(bin)}`);
    assert(String(run.json.hint).startsWith("chmod +x '"));
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
