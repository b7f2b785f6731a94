/**
 * The updater loop's shell script (`lib/updater/loop.ts`): its liveness
 * check never blocks on a FIFO planted as the pid record.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";

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
