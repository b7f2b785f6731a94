/**
 * Bounded helper commands (`lib/process/bounded_command.ts`): a command
 * that hangs is killed with its whole process group.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { eventually, isAlive } from "../support/helpers.ts";

Deno.test("runBounded() kills the whole process group of a command that hangs", async () => {
  const { runBounded } = await import("../../lib/process/bounded_command.ts");
  const run = await runBounded("/bin/sh", ["-c", "sleep 300 & echo $!; wait"], { timeoutMs: 300 });
  assert(run.timedOut);
  assertEquals(run.success, false);
  const grandchild = Number(run.stdout.trim());
  assert(grandchild > 1, `the grandchild's pid was printed: ${JSON.stringify(run.stdout)}`);
  assert(await eventually(() => !isAlive(grandchild), 5_000), "the grandchild died with its group");
  const quick = await runBounded("/bin/echo", ["hi"], { timeoutMs: 5_000 });
  assertEquals([quick.success, quick.stdout, quick.timedOut], [true, "hi\n", false]);
});
