/**
 * Small wrong results around CODEX_HOME and the command line (issue 18,
 * point 10): a home spelled with `..`, `.` or doubled slashes is normalised
 * once for every command (systemd drops a `PIDFile=` that is not), a
 * trailing backslash cannot swallow the unit's next line
 * (`tests/autostart/unit_test.ts`), and `--codex-home ''` is refused
 * (`tests/cli/parse_test.ts`).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { fakeHome, runCli } from "../support/helpers.ts";
import { normalizePath, resolveCodexHome } from "../../lib/state/paths.ts";
import { CodexdError } from "../../lib/errors.ts";

Deno.test("normalizePath() resolves . and .. lexically and drops doubled and trailing slashes", () => {
  const table: [string, string][] = [
    ["/home/alice/.codex", "/home/alice/.codex"],
    ["/home/alice/../alice/.codex", "/home/alice/.codex"],
    ["/home//alice/./.codex/", "/home/alice/.codex"],
    ["/../..//x", "/x"],
    ["/", "/"],
    ["/a/b/..", "/a"],
    ["/a/.codex\\", "/a/.codex\\"],
  ];
  for (const [input, expected] of table) assertEquals(normalizePath(input), expected, input);
});

Deno.test("resolveCodexHome() refuses an explicit empty home with USAGE", () => {
  let refused: unknown;
  try {
    resolveCodexHome("");
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof CodexdError && refused.code === "USAGE", String(refused));
});

Deno.test("every command sees a CODEX_HOME spelled with .. and // normalised", async () => {
  await using h = await fakeHome();
  const parent = h.home.slice(0, h.home.lastIndexOf("/"));
  const name = h.home.slice(h.home.lastIndexOf("/") + 1);
  const spelled = `${parent}//${name}/../${name}/./`;
  const status = await runCli(h.home, ["status", "--codex-home", spelled]);
  assertEquals(status.code, 3, status.stdout + status.stderr);
  assertEquals(status.json.socketPath, `${h.home}/app-server-control/app-server-control.sock`);
  assertEquals(status.json.logPath, `${h.home}/app-server-daemon/app-server.stderr.log`);
  // The environment variable the same way.
  const viaEnv = await runCli(spelled, ["status"]);
  assertEquals(viaEnv.json.socketPath, status.json.socketPath);
});
