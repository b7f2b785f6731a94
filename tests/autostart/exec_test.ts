/**
 * Autostart helper commands (`lib/autostart/exec.ts`): a helper is killed at
 * its deadline.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { runHelper } from "../../lib/autostart/exec.ts";

Deno.test("runHelper() kills a helper at its deadline", async () => {
  const run = await runHelper("/bin/sleep", ["30"], { timeoutMs: 100 });
  assertEquals(run.timedOut, true);
  assertEquals(run.success, false);
  const ok = await runHelper("/bin/sh", ["-c", "echo hi"]);
  assertEquals([ok.success, ok.stdout], [true, "hi\n"]);
  const missing = await runHelper("/nonexistent/tool", []);
  assertEquals(missing.success, false);
});
