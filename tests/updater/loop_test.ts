/**
 * The updater loop's shell script (`lib/updater/loop.ts`): its builtin
 * liveness check tells a healthy app-server from a dead one and never blocks
 * on a FIFO planted as the pid record, and the reference's updater loop is
 * told from codexd's own by its argv.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { eventually, fakeHome, isAlive, runCli } from "../support/helpers.ts";

Deno.test("the updater loop's liveness check never blocks on a FIFO record", async () => {
  const { UPDATER_LOOP_SCRIPT } = await import("../../lib/updater/loop.ts");
  const dir = await Deno.makeTempDir();
  try {
    const made = await new Deno.Command("/usr/bin/mkfifo", { args: [`${dir}/app-server.pid`] })
      .output();
    assert(made.success);
    const functions = UPDATER_LOOP_SCRIPT.slice(
      UPDATER_LOOP_SCRIPT.indexOf("field()"),
      UPDATER_LOOP_SCRIPT.indexOf("next=$(("),
    );
    const out = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `${functions}\napp_alive "$1/app-server.pid" && echo alive || echo dead`,
        "t",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "dead");
    assertEquals(new TextDecoder().decode(out.stderr), "", "no shell noise");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isReferenceUpdaterArgv() claims only a codex app-server process, never codexd's loop", async () => {
  const { isReferenceUpdaterArgv } = await import("../../lib/updater/loop.ts");
  const table: [string[], boolean][] = [
    [["codex", "app-server", "daemon", "pid-update-loop"], true],
    [["/bin/sh", "-c", "…", "codexd-update-loop", "/state"], false],
    [
      ["/bin/sh", "-c", "…", "codexd-launch", "/log", "/bin/sh", "-c", "…", "codexd-update-loop"],
      false,
    ],
    [[""], false], // mid-exec: unreadable
    [["sleep", "300"], false],
  ];
  for (const [argv, foreign] of table) {
    assertEquals(isReferenceUpdaterArgv(argv), foreign, argv.join(" "));
  }
});

Deno.test("the updater's builtin liveness check tells a healthy app-server from a dead one", async () => {
  const { UPDATER_LOOP_SCRIPT } = await import("../../lib/updater/loop.ts");
  await using h = await fakeHome();
  // The loop's own functions, run on their own: no Deno is involved.
  const functions = UPDATER_LOOP_SCRIPT.slice(
    UPDATER_LOOP_SCRIPT.indexOf("field()"),
    UPDATER_LOOP_SCRIPT.indexOf("next=$(("),
  );
  const check = async (): Promise<string> => {
    const out = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `${functions}\napp_alive "$1/app-server.pid" && echo alive || echo dead`,
        "check",
        `${h.home}/app-server-daemon`,
      ],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  assertEquals(await check(), "dead", "no record");
  const { pid } = (await runCli(h.home, ["start"])).json;
  assertEquals(await check(), "alive");
  Deno.kill(pid as number, "SIGKILL");
  assert(await eventually(() => !isAlive(pid as number)));
  assertEquals(await check(), "dead", "killed (a zombie here) counts as dead");
});
