/**
 * Process identity (`lib/process/process_identity.ts`): `/proc` and `ps`
 * parsed, a process seen alive or dead with this boot's identity, and the
 * argv marker of a server codexd launched for a home.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  isExitedState,
  isLaunchedFor,
  parseLstart,
  parseProcStat,
  probeProcess,
  readBootId,
} from "../../lib/process/process_identity.ts";
import { eventually } from "../support/helpers.ts";

Deno.test("parseProcStat() counts fields from the last parenthesis", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = "S";
  fields[19] = "123456";
  assertEquals(parseProcStat(`42 (we ird) name)) ${fields.join(" ")}`), {
    state: "S",
    startTicks: 123456,
  });
  assertEquals(parseProcStat("garbage"), undefined);
});

Deno.test("isExitedState() treats zombies and dead states as exited", () => {
  assertEquals(["R", "S", "D", "T", "Z", "X"].map(isExitedState), [
    false,
    false,
    false,
    false,
    true,
    true,
  ]);
});

Deno.test("parseLstart() parses C-locale UTC ps output as a time, not text", () => {
  assertEquals(
    parseLstart("Tue Nov 24 22:43:44 2026")?.toISOString(),
    "2026-11-24T22:43:44.000Z",
  );
  assertEquals(parseLstart("Di 24 Nov 22:43:44 2026"), undefined);
});

Deno.test("probeProcess() sees this process alive with this boot's identity", () => {
  const probe = probeProcess(Deno.pid);
  assert(probe.kind === "alive");
  assertEquals(probe.identity.bootId, readBootId());
  assert(probe.identity.startTicks > 0);
});

Deno.test("probeProcess() treats a zombie as dead", async () => {
  // The background sleep exits after its parent has exec'd into another
  // sleep, which never reaps it: a zombie for as long as that sleep runs.
  // (A child that exits before the exec may be reaped by sh itself.)
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0.2 & echo $!; exec sleep 5"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = parent.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const zombie = Number(new TextDecoder().decode(value).trim());
    const isZombie = async () =>
      (await Deno.readTextFile(`/proc/${zombie}/stat`).catch(() => "")).includes(") Z ");
    assert(await eventually(isZombie, 10_000, 5), "the child became a zombie");
    assertEquals(probeProcess(zombie).kind, "dead");
  } finally {
    parent.kill("SIGKILL");
    await parent.stdout.cancel();
    await parent.status;
  }
});

Deno.test("isLaunchedFor() needs codexd's argv marker and exactly this CODEX_HOME", () => {
  const env = "PATH=/bin\0CODEX_HOME=/home/a/.codex\0HOME=/root\0";
  const table: [string[], string, string, boolean][] = [
    [["codex", "app-server", "--listen", "unix://"], env, "/home/a/.codex", true],
    [["/bin/sh", "-c", "…", "codexd-update-loop"], env, "/home/a/.codex", true],
    [["/bin/sh", "-c", "…", "codexd-launch"], env, "/home/a/.codex", true],
    [["/bin/sleep", "300"], env, "/home/a/.codex", false],
    [["codex", "app-server"], env, "/home/a", false],
    [["codex", "app-server"], "CODEX_HOME=/home/a/.codex2\0", "/home/a/.codex", false],
    [["codex", "app-server"], "XCODEX_HOME=/home/a/.codex\0", "/home/a/.codex", false],
  ];
  for (const [argv, environ, home, expected] of table) {
    assertEquals(isLaunchedFor(argv, environ, home), expected, `${argv.join(" ")} ${environ}`);
  }
});
