/**
 * The app-server handshake (`lib/app_server/handshake.ts`): the
 * version in the server's user agent.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { parseUserAgentVersion } from "../../lib/app_server/handshake.ts";

Deno.test("parseUserAgentVersion() takes the first token after the slash", () => {
  assertEquals(parseUserAgentVersion("codexd/0.169.0 (Debian 12; x86_64) xterm"), "0.169.0");
  assertEquals(parseUserAgentVersion("codex_app_server_daemon/1.2.3"), "1.2.3");
  assertEquals(parseUserAgentVersion("no-version"), undefined);
  assertEquals(parseUserAgentVersion("name/ "), undefined);
});
