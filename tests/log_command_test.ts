/**
 * `codexd logs` (`lib/log_command.ts`): no terminal control sequence
 * reaches a terminal, and a FIFO planted as the log never blocks it.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { fakeHome, runBoundedCli } from "./support/helpers.ts";
import { renderPretty } from "../cli.ts";

Deno.test("logs --pretty and the stderr line carry no terminal control sequences", async () => {
  assertEquals(
    renderPretty({ status: "ok", logPath: "/x", lines: ["\x1b[31mred\x1b[0m", "bell\x07"] }),
    "==> /x <==\nred\nbell",
  );
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  await Deno.writeTextFile(`${h.home}/app-server-daemon/app-server.stderr.log`, "\x1b[2Jwiped\n");
  const run = await runBoundedCli(h.home, ["logs", "--pretty"]);
  assertEquals(run.code, 0);
  assert(!run.stdout.includes("\x1b"), JSON.stringify(run.stdout));
  assertMatch(run.stdout, /wiped/);
  // An error message quoting a hostile path reaches stderr without its escapes.
  const hostile = `${h.home}/\x1b]0;pwned\x07bin`;
  const failed = await runBoundedCli(h.home, ["start", "--codex-bin", hostile]);
  assertEquals(failed.json.code, "BINARY_MISSING");
  assert(!failed.stderr.includes("\x1b"), JSON.stringify(failed.stderr));
});

Deno.test("logs never blocks on a FIFO planted as the log", async () => {
  await using h = await fakeHome();
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  const made = await new Deno.Command("/usr/bin/mkfifo", {
    args: [`${h.home}/app-server-daemon/app-server.stderr.log`],
  }).output();
  assert(made.success);
  const run = await runBoundedCli(h.home, ["logs"], { limitMs: 20_000 });
  assert(!run.hung, "logs must not block on a FIFO");
  assertEquals(run.json.lines, []);
});
