/**
 * The daemon lock (`lib/state/daemon_lock.ts`): a held lock times out
 * naming its holder.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { acquireDaemonLock, tryAcquireDaemonLock } from "../../lib/state/daemon_lock.ts";
import { CodexdError } from "../../lib/errors.ts";

Deno.test("acquireDaemonLock() times out naming the holder's pid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/daemon.lock`;
    const held = await acquireDaemonLock(file);
    assertEquals(await tryAcquireDaemonLock(file), undefined);
    await assertRejects(
      () => acquireDaemonLock(file, { timeoutMs: 30 }),
      (e) =>
        e instanceof CodexdError && e.code === "LOCK_TIMEOUT" &&
        e.message.includes(`held by pid ${Deno.pid}`),
    );
    await held.release();
    const next = await tryAcquireDaemonLock(file);
    assert(next !== undefined);
    await next.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
