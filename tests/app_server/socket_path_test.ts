/**
 * The control socket's path (`lib/app_server/socket_path.ts`): a path too
 * long for a Unix socket is reached through a short symlink.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { connectablePath } from "../../lib/app_server/socket_path.ts";

Deno.test("connectablePath() goes through the symlink only when the path is too long", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const long = `${dir}/${"x".repeat(120)}`;
    await Deno.symlink("/tmp/short.sock", long);
    assertEquals(connectablePath(long), "/tmp/short.sock");
    assertEquals(connectablePath(`${dir}/s.sock`), `${dir}/s.sock`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
