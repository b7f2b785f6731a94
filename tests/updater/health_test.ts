/**
 * `status` does not call an updater running whose every supervision check
 * fails (issue 18, point 8: root's loop without `--allow-foreign-home` logged
 * `supervise: error: HOME_UNSAFE` at every check while `status` said
 * `updater.running: true`).
 *
 * @module
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, runCli } from "../support/helpers.ts";
import { superviseHealth } from "../../lib/state/updater_log.ts";
import { writePidRecord } from "../../lib/process/pid_record.ts";

Deno.test("superviseHealth() counts the failed checks in a row since the loop started", () => {
  const started = "2026-12-06T10:00:00Z updater 42 started: check 1s, update every 3600s";
  const error = (s: number) =>
    `2026-12-06T10:00:0${s}Z supervise: error: HOME_UNSAFE: Refusing CODEX_HOME /h`;
  const table: [string, string[], ReturnType<typeof superviseHealth>][] = [
    ["empty log", [], { superviseErrors: 0 }],
    ["only the start", [started], { superviseErrors: 0 }],
    ["two errors", [started, error(1), error(2)], {
      superviseErrors: 2,
      lastSuperviseError: "2026-12-06T10:00:02Z HOME_UNSAFE: Refusing CODEX_HOME /h",
    }],
    ["other events between errors are skipped", [
      error(1),
      "2026-12-06T10:00:01Z update pass: noUpdate",
      error(3),
    ], {
      superviseErrors: 2,
      lastSuperviseError: "2026-12-06T10:00:03Z HOME_UNSAFE: Refusing CODEX_HOME /h",
    }],
    ["a successful check ends the run", [
      error(1),
      "2026-12-06T10:00:02Z supervise: restarted the app-server (pid 7)",
    ], { superviseErrors: 0 }],
    ["a restarted loop starts afresh", [error(1), started], { superviseErrors: 0 }],
  ];
  for (const [name, lines, expected] of table) assertEquals(superviseHealth(lines), expected, name);
});

Deno.test("status reports a live updater whose checks all fail as not running, with the error", async () => {
  await using h = await fakeHome();
  const loop = new Deno.Command("/bin/sleep", {
    args: ["300"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const state = `${h.home}/app-server-daemon`;
    await Deno.mkdir(state, { recursive: true, mode: 0o700 });
    await writePidRecord(`${state}/app-server-updater.pid`, loop.pid);
    const lines = [
      `2026-12-06T10:00:00Z updater ${loop.pid} started: check 5s, update every 3600s`,
      "2026-12-06T10:00:05Z supervise: error: HOME_UNSAFE: Refusing CODEX_HOME /h: owned by uid 1000",
      "2026-12-06T10:00:10Z supervise: error: HOME_UNSAFE: Refusing CODEX_HOME /h: owned by uid 1000",
    ];
    await Deno.writeTextFile(`${state}/app-server-updater.log`, lines.join("\n") + "\n");
    const failing = await runCli(h.home, ["status"]);
    assertEquals(failing.code, 3, failing.stdout);
    const updater = failing.json.updater as Record<string, unknown>;
    assertEquals(updater.running, false);
    assertEquals(updater.pid, loop.pid);
    assertEquals(updater.superviseErrors, 2);
    assertMatch(String(updater.lastSuperviseError), /^2026-12-06T10:00:10Z HOME_UNSAFE: /);

    await Deno.writeTextFile(
      `${state}/app-server-updater.log`,
      "2026-12-06T10:00:15Z supervise: skipped: stopped by the user\n",
      { append: true },
    );
    const healthy = await runCli(h.home, ["status"]);
    const after = healthy.json.updater as Record<string, unknown>;
    assertEquals(after.running, true, healthy.stdout);
    assertEquals(after.superviseErrors, undefined);
  } finally {
    loop.kill("SIGKILL");
    await loop.status;
  }
});
