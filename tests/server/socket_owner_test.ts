/**
 * Which process owns a home's socket (`lib/server/socket_owner.ts`): only
 * listening sockets on the given paths, and only this home's codex
 * app-server.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { isHomeAppServer, listeningInodes } from "../../lib/server/socket_owner.ts";

Deno.test("listeningInodes() finds only listening sockets on the given paths", () => {
  const table = [
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "0000: 00000002 00000000 00010000 0001 01 50549 /tmp/codex-daemon-0/abc",
    "0000: 00000003 00000000 00000000 0001 03 50550 /tmp/codex-daemon-0/abc",
    "0000: 00000002 00000000 00010000 0001 01 40000 /tmp/other",
    "0000: 00000002 00000000 00010000 0001 01 40001",
  ].join("\n");
  assertEquals(listeningInodes(table, ["/tmp/codex-daemon-0/abc"]), [50549]);
  assertEquals(listeningInodes(table, ["/nowhere"]), []);
});

Deno.test("isHomeAppServer() accepts only this home's codex app-server", () => {
  const env = (pairs: Record<string, string>): string =>
    Object.entries(pairs).map(([k, v]) => `${k}=${v}\0`).join("");
  const table: [string[], string, boolean][] = [
    [["codex", "app-server", "--listen", "unix://"], env({ CODEX_HOME: "/h" }), true],
    [["codex", "app-server"], env({ CODEX_HOME: "/h/" }), true],
    [["codex", "app-server"], env({ HOME: "/u" }), false],
    [["codex", "app-server"], env({ CODEX_HOME: "/other" }), false],
    [["sshd", "-D"], env({ CODEX_HOME: "/h" }), false],
  ];
  for (const [argv, environ, ours] of table) {
    assertEquals(isHomeAppServer(argv, environ, "/h").ours, ours, argv.join(" ") + environ);
  }
  assertEquals(
    isHomeAppServer(["codex", "app-server"], env({ HOME: "/u" }), "/u/.codex").ours,
    true,
  );
});
