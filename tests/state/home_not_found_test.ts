/**
 * A mistyped `--codex-home`: every command but `bootstrap` creates nothing
 * there. Commands that change a home (and the internal ones the updater and
 * the autostart unit run) fail `HOME_NOT_FOUND`; the read-only ones (`status`,
 * `version`, `logs`) and `disable-autostart` (which only removes a unit) answer
 * as for a home with nothing running.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { runCli } from "../support/helpers.ts";

const MUTATING: string[][] = [
  ["start"],
  ["restart"],
  ["stop"],
  ["stop", "--all"],
  ["adopt"],
  ["enable-remote-control"],
  ["disable-remote-control"],
  ["update"],
  ["enable-autostart"],
  ["supervise"],
  ["apply-pending"],
  ["autostart-start"],
];

/** Read-only commands: the exit code and status they answer, as before the home check. */
const READ_ONLY: [string[], number, string][] = [
  [["status"], 3, "stopped"],
  [["version"], 1, "error"],
  [["logs"], 0, "ok"],
  [["logs", "--updater"], 0, "ok"],
  [["disable-autostart"], 0, "alreadyDisabled"],
];

Deno.test("every command but bootstrap leaves a nonexistent CODEX_HOME uncreated", async () => {
  const parent = await Deno.makeTempDir({ prefix: "codexd-nohome-" });
  const home = `${parent}/typo`;
  try {
    for (const args of MUTATING) {
      const run = await runCli(home, [...args, "--codex-home", home]);
      assertEquals(run.code, 1, `${args}: ${run.stdout}`);
      assertEquals(run.json.code, "HOME_NOT_FOUND", `${args}`);
      assertEquals([...Deno.readDirSync(parent)], [], `${args} created something`);
    }
    // The autostart unit's after-stop command, after an abnormal exit.
    const stopped = await runCli(home, ["autostart-stopped", "--codex-home", home], {
      env: { EXIT_CODE: "killed", EXIT_STATUS: "9" },
    });
    assertEquals(stopped.json.code, "HOME_NOT_FOUND");
    for (const [args, code, status] of READ_ONLY) {
      const run = await runCli(home, [...args, "--codex-home", home]);
      assertEquals(run.code, code, `${args}: ${run.stdout}`);
      assertEquals(run.json.status, status, `${args}`);
      assert([...Deno.readDirSync(parent)].length === 0, `${args} created something`);
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
