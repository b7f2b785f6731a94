/**
 * The pid record (`app-server.pid`, `app-server-updater.pid`): which process
 * codexd started, with an identity that survives pid reuse, and the rule that
 * turns a record plus `/proc` into a {@linkcode PidState}.
 *
 * The rule (SPEC "Files"): dead or zombie → stale; alive with another identity
 * (reuse, another boot) → stale, and that process is never signalled; identity
 * unreadable → unverifiable: keep the record, report it, never guess.
 *
 * @module
 */
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "./atomic_file.ts";
import {
  probeProcess,
  type ProcessIdentity,
  type ProcessProbe,
  sameIdentity,
} from "./process_identity.ts";

/** The JSON stored in a pid file. Field names match the reference. */
export interface PidRecord {
  /** The process id. */
  pid: number;
  /** ISO-8601 start time, for people; identity uses {@linkcode PidRecord.processIdentity}. */
  processStartTime: string;
  /** Boot id and start ticks: compared exactly, never as text. */
  processIdentity: ProcessIdentity;
}

/** What a pid file means right now. */
export type PidState =
  | { kind: "missing" }
  | { kind: "stale"; reason: string; record?: PidRecord }
  | { kind: "unverifiable"; reason: string; record: PidRecord }
  | { kind: "running"; record: PidRecord; startTime: Date };

/** Parses pid file text; `undefined` when it is not a well-formed record. */
export function parsePidRecord(text: string): PidRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Partial<PidRecord>;
  if (!Number.isSafeInteger(record.pid) || (record.pid ?? 0) <= 1) {
    return undefined;
  }
  const identity = record.processIdentity;
  const validIdentity = typeof identity === "object" && identity !== null &&
    typeof identity.bootId === "string" &&
    typeof identity.startTicks === "number";
  return {
    pid: record.pid as number,
    processStartTime: String(record.processStartTime ?? ""),
    processIdentity: validIdentity
      ? { bootId: identity.bootId, startTicks: identity.startTicks }
      : { bootId: "", startTicks: -1 },
  };
}

/**
 * Decides what a record means given what the pid looks like now. Pure, so
 * the whole rule is tested by a table.
 */
export function classifyPidRecord(
  record: PidRecord,
  probe: ProcessProbe,
): PidState {
  switch (probe.kind) {
    case "dead":
      return { kind: "stale", reason: `pid ${record.pid} has exited`, record };
    case "unknown":
      return { kind: "unverifiable", reason: probe.reason, record };
    case "alive":
      if (record.processIdentity.startTicks < 0) {
        return {
          kind: "unverifiable",
          reason: `record for pid ${record.pid} has no process identity`,
          record,
        };
      }
      if (!sameIdentity(record.processIdentity, probe.identity)) {
        return {
          kind: "stale",
          reason: `pid ${record.pid} now belongs to another process`,
          record,
        };
      }
      return { kind: "running", record, startTime: probe.startTime };
  }
}

/** Reads `file` and classifies it against the live process table. */
export async function readPidState(file: string): Promise<PidState> {
  const text = await readTextIfPresent(file);
  if (text === undefined) return { kind: "missing" };
  const record = parsePidRecord(text);
  if (record === undefined) {
    return { kind: "stale", reason: `pid record ${file} is not valid JSON` };
  }
  return classifyPidRecord(record, probeProcess(record.pid));
}

/**
 * Records `pid` with its current identity, atomically. Returns `undefined`
 * when the process is already gone (nothing to record).
 */
export async function writePidRecord(
  file: string,
  pid: number,
): Promise<PidRecord | undefined> {
  const probe = probeProcess(pid);
  if (probe.kind !== "alive") return undefined;
  const record: PidRecord = {
    pid,
    processStartTime: probe.startTime.toISOString(),
    processIdentity: probe.identity,
  };
  await writeFileAtomic(file, JSON.stringify(record) + "\n");
  return record;
}

/** Removes a pid record; a missing file is fine. */
export function removePidRecord(file: string): Promise<void> {
  return removeIfPresent(file);
}

/** Whether `record` still names the same live process (never signal otherwise). */
export function isRecordAlive(record: PidRecord): boolean {
  return classifyPidRecord(record, probeProcess(record.pid)).kind === "running";
}
