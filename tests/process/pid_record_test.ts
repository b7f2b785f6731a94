/**
 * Pid records (`lib/process/pid_record.ts`): what a record says about its
 * process by the SPEC rule (a table), parsing, and a write-read round trip.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  classifyPidRecord,
  parsePidRecord,
  type PidRecord,
  readPidState,
  writePidRecord,
} from "../../lib/process/pid_record.ts";

/** A record as codexd writes it (the tables vary its process's facts). */
const record: PidRecord = {
  pid: 4242,
  processStartTime: "2026-01-01T00:00:00.000Z",
  processIdentity: { bootId: "boot-a", startTicks: 100 },
};

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
