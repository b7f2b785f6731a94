/**
 * Progress of long work (lib/cli/progress.ts): the line of each stage, by a
 * table, and a non-terminal reporter's lines in order (the download's line
 * waits for its size).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { progressReporter, stageLine } from "../../lib/cli/progress.ts";

Deno.test("stageLine() names each stage, the version and the download's size", () => {
  const table: [Parameters<typeof stageLine>, string][] = [
    [["resolving", "latest"], "codexd: resolving codex latest"],
    [
      ["downloading", "0.169.0", 52.3 * 1024 * 1024],
      "codexd: downloading codex 0.169.0 (52.3 MiB)",
    ],
    [["extracting", "0.169.0"], "codexd: extracting codex 0.169.0"],
    [["verifying", "0.169.0"], "codexd: verifying codex 0.169.0"],
    [["switching", "0.169.0"], "codexd: switching codex 0.169.0"],
    [["installing", "install.sh"], "codexd: installing with install.sh"],
    [["restarting", "0.169.0"], "codexd: restarting the app-server on 0.169.0"],
    [["starting"], "codexd: starting the app-server"],
  ];
  for (const [args, line] of table) assertEquals(stageLine(...args), line);
});

Deno.test("a non-terminal stderr gets one plain line per stage, the download with its size", async () => {
  const lines: string[] = [];
  const stderr = {
    isTerminal: () => false,
    writeSync: (bytes: Uint8Array) => {
      lines.push(new TextDecoder().decode(bytes));
      return bytes.length;
    },
  };
  const reporter = progressReporter(stderr);
  reporter.onStage("resolving", "latest");
  reporter.onStage("downloading", "1.0.0");
  reporter.onProgress(1024, 2 * 1024 * 1024);
  reporter.onProgress(2 * 1024 * 1024, 2 * 1024 * 1024);
  reporter.onStage("extracting", "1.0.0");
  await reporter.done();
  assertEquals(lines, [
    "codexd: resolving codex latest\n",
    "codexd: downloading codex 1.0.0 (2.0 MiB)\n",
    "codexd: extracting codex 1.0.0\n",
  ]);
});
