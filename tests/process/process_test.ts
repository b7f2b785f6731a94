/**
 * Unit tests of process identity, pid records and termination.
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
import {
  classifyPidRecord,
  parsePidRecord,
  type PidRecord,
  readPidState,
  writePidRecord,
} from "../../lib/process/pid_record.ts";
import { decideSignal, type SignalFacts, terminateRecorded } from "../../lib/process/terminate.ts";
import { eventually } from "../support/helpers.ts";

const record: PidRecord = {
  pid: 4242,
  processStartTime: "2026-01-01T00:00:00.000Z",
  processIdentity: { bootId: "boot-a", startTicks: 100 },
};

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

Deno.test("classifyPidRecord() follows the SPEC rule", () => {
  const alive = (bootId: string, startTicks: number) => ({
    kind: "alive" as const,
    identity: { bootId, startTicks },
    startTime: new Date(0),
  });
  const table: [Parameters<typeof classifyPidRecord>[1], string][] = [
    [{ kind: "dead" }, "stale"],
    [alive("boot-a", 100), "running"],
    [alive("boot-a", 101), "stale"],
    [alive("boot-b", 100), "stale"],
    [{ kind: "unknown", reason: "EACCES" }, "unverifiable"],
  ];
  for (const [probe, expected] of table) {
    assertEquals(classifyPidRecord(record, probe).kind, expected, JSON.stringify(probe));
  }
  const noIdentity = parsePidRecord('{"pid":4242}');
  assert(noIdentity !== undefined);
  assertEquals(classifyPidRecord(noIdentity, alive("boot-a", 100)).kind, "unverifiable");
});

Deno.test("parsePidRecord() rejects what is not a record", () => {
  for (const text of ["", "{", "[]", "null", '{"pid":1}', '{"pid":-5}', '{"pid":"12"}']) {
    assertEquals(parsePidRecord(text), undefined, text);
  }
  assertEquals(parsePidRecord(JSON.stringify(record)), record);
});

Deno.test("writePidRecord() and readPidState() round-trip a live process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/x.pid`;
    assertEquals((await readPidState(file)).kind, "missing");
    const written = await writePidRecord(file, Deno.pid);
    assert(written !== undefined);
    const state = await readPidState(file);
    assert(state.kind === "running");
    assertEquals(state.record, written);
    assertEquals([...Deno.readDirSync(dir)].length, 1, "no temp files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("terminateRecorded() SIGKILLs a process that ignores SIGTERM after the grace", async () => {
  const child = new Deno.Command("sh", {
    args: ["-c", "trap '' TERM; while :; do sleep 0.05; done"],
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const dir = await Deno.makeTempDir();
    const written = await writePidRecord(`${dir}/p.pid`, child.pid);
    await Deno.remove(dir, { recursive: true });
    assert(written !== undefined);
    const outcome = await terminateRecorded(written, { graceMs: 200 });
    assertEquals(outcome, "killed");
  } finally {
    await child.status;
  }
});

Deno.test("terminateRecorded() never signals a process whose identity changed", async () => {
  const outcome = await terminateRecorded(
    { ...record, pid: Deno.pid, processIdentity: { bootId: readBootId(), startTicks: 1 } },
    { graceMs: 0 },
  );
  assertEquals(outcome, "alreadyGone");
});

Deno.test("decideSignal() lets root signal only the home owner's processes and its own launched ones", () => {
  const owner = 1000;
  const table: [string, SignalFacts, ReturnType<typeof decideSignal>][] = [
    ["a user on its own home: its process", {
      uid: owner,
      self: owner,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "group"],
    ["a user: root's process", {
      uid: 0,
      self: owner,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "refuse"],
    ["root on its own home: its process", {
      uid: 0,
      self: 0,
      allowedUids: [0],
      launchedForHome: undefined,
    }, "group"],
    ["root on a user's home: the owner's process, members filtered", {
      uid: owner,
      self: 0,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "members"],
    ["root on a user's home: a forged record naming root's process", {
      uid: 0,
      self: 0,
      allowedUids: [owner],
      launchedForHome: false,
    }, "refuse"],
    ["root on a user's home: root's process, environment unreadable", {
      uid: 0,
      self: 0,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "refuse"],
    ["root on a user's home: the app-server root launched for it", {
      uid: 0,
      self: 0,
      allowedUids: [owner],
      launchedForHome: true,
    }, "group"],
    ["root on a user's home: a third user's process", {
      uid: 2000,
      self: 0,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "refuse"],
    ["uid unreadable (gone; EPERM still tells)", {
      uid: undefined,
      self: 0,
      allowedUids: [owner],
      launchedForHome: undefined,
    }, "group"],
  ];
  for (const [name, facts, expected] of table) assertEquals(decideSignal(facts), expected, name);
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
