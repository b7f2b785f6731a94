/**
 * Ending a recorded process (`lib/process/terminate.ts`): SIGKILL after the
 * grace, never a signal to a process whose identity changed, and who may
 * signal whom (a table).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { type PidRecord, writePidRecord } from "../../lib/process/pid_record.ts";
import { readBootId } from "../../lib/process/process_identity.ts";
import { decideSignal, type SignalFacts, terminateRecorded } from "../../lib/process/terminate.ts";

/** A record as codexd writes it (the tables vary its process's facts). */
const record: PidRecord = {
  pid: 4242,
  processStartTime: "2026-01-01T00:00:00.000Z",
  processIdentity: { bootId: "boot-a", startTicks: 100 },
};

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
