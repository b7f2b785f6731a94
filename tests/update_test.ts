/**
 * `codexd update` (`lib/update.ts`): what a pass did, in words, and the
 * versions it reports.
 *
 * @module
 */
import { assert, assertEquals } from "./support/assert.ts";
import { fakeHome, runCli } from "./support/helpers.ts";

Deno.test("updateMessage() says what an update pass did, in words", async () => {
  const { updateMessage } = await import("../lib/update.ts");
  const base = {
    previousVersion: "1.0.0",
    version: "2.0.0",
    installed: true,
    restarted: false,
    managedCodexPath: "/h/codex",
    socketPath: "/h/s",
    codexdVersion: "0.1.0",
  };
  const table: [Parameters<typeof updateMessage>[0], string | null, RegExp][] = [
    [
      { ...base, status: "noUpdate", installed: false, version: "1.0.0" },
      "1.0.0",
      /up to date \(1\.0\.0\)/,
    ],
    [{ ...base, status: "noUpdate", reason: "externalBinary" }, null, /external binary/],
    [
      {
        ...base,
        status: "pinned",
        reason: "pinned to 1.0.0",
        pin: { by: "codexd", version: "1.0.0" },
      },
      "1.0.0",
      /pinned to 1\.0\.0: nothing changed \(codexd update --unpin/,
    ],
    [
      {
        ...base,
        status: "pinned",
        reason: "pinned by the reference to local-x",
        pin: { by: "reference", release: "local-x", version: null },
      },
      "1.0.0",
      /keeps the reference's selection/,
    ],
    [{ ...base, status: "updated", restarted: true }, "2.0.0", /updated to 2\.0\.0/],
    [{ ...base, status: "updated", restartPending: true }, "1.0.0", /once no turn runs/],
    [{ ...base, status: "updated" }, null, /next start/],
  ];
  for (const [result, running, pattern] of table) {
    assert(pattern.test(updateMessage(result, running)), updateMessage(result, running));
  }
});

Deno.test("update reports installedVersion, runningVersion and a message", async () => {
  await using h = await fakeHome();
  await runCli(h.home, ["start"]);
  // The fake's binary is not the managed npm layout's; --codex-bin makes it external.
  const run = await runCli(h.home, [
    "update",
    "--codex-bin",
    `${h.home}/packages/standalone/current/codex`,
  ]);
  assertEquals(run.json.status, "pinned", run.stdout);
  assertEquals(run.json.installedVersion, "9.9.9");
  assertEquals(run.json.runningVersion, "9.9.9");
  assertEquals(run.json.changed, false);
  assert(typeof run.json.message === "string");
});
