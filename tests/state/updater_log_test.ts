/**
 * The updater log (`lib/state/updater_log.ts`): one timestamped line per
 * event (the loop, each supervised restart, each pass), no shell noise.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { eventually, fakeHome, modeOf, runBoundedCli } from "../support/helpers.ts";
import { formatUpdaterLogLine } from "../../lib/state/updater_log.ts";

Deno.test("the updater log records the loop, each supervised restart and each pass, one line each", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    `${state}/settings.json`,
    JSON.stringify({
      updater: {
        firstPassDelaySeconds: 0,
        supervision: { checkSeconds: 1, backoffBaseSeconds: 1, maxAttempts: 3, stableSeconds: 30 },
      },
    }),
  );
  const boot = await runBoundedCli(h.home, ["bootstrap", "--no-auto-update"]);
  assertEquals(boot.json.status, "bootstrapped", boot.stdout);
  const pid = boot.json.pid as number;
  const log = `${state}/app-server-updater.log`;
  const read = (): string => {
    try {
      return Deno.readTextFileSync(log);
    } catch {
      return "";
    }
  };
  assert(await eventually(() => /update pass: noUpdate/.test(read()), 20_000), read());
  Deno.kill(pid, "SIGKILL");
  assert(
    await eventually(() => /supervise: restarted the app-server/.test(read()), 20_000),
    read(),
  );
  const lines = read().trimEnd().split("\n");
  for (const line of lines) {
    assertMatch(
      line,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S/,
      `timestamped: ${JSON.stringify(line)}`,
    );
  }
  assert(!/cannot open|No such file|can't open/i.test(read()), `no shell noise:\n${read()}`);
  assertEquals(lines.filter((l) => /supervise: restarted/.test(l)).length, 1, read());
  assertEquals(modeOf(log).toString(8), "600");
});

Deno.test("formatUpdaterLogLine() keeps one event on one line", () => {
  const now = new Date("2026-11-25T10:00:00.123Z");
  assertEquals(
    formatUpdaterLogLine("update pass: noUpdate", now),
    "2026-11-25T10:00:00Z update pass: noUpdate\n",
  );
  assertEquals(
    formatUpdaterLogLine("error: NOT_READY: a\nLast lines:\n\x1b[31mx", now),
    "2026-11-25T10:00:00Z error: NOT_READY: a | Last lines: | [31mx\n",
  );
});
