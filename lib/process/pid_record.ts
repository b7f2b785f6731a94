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
import { readTextIfPresent, removeIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import {
  isLaunchedFor,
  probeProcess,
  type ProcessIdentity,
  type ProcessProbe,
  sameIdentity,
} from "./process_identity.ts";
import { dirname } from "@std/path/posix/dirname";

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
  const probe = probeProcess(record.pid);
  const state = classifyPidRecord(record, probe);
  if (
    state.kind === "unverifiable" && record.processIdentity.startTicks < 0 && probe.kind === "alive"
  ) {
    return await verifyByEnvironment(file, record, probe);
  }
  return state;
}

/**
 * A record without an identity (written by an older or foreign tool) is
 * checked another way instead of being guessed at: codexd starts its
 * processes as this user with `CODEX_HOME` in their environment, so a process
 * whose environment is unreadable (another user's) or lacks this home is not
 * ours (stale, never signalled); one that has it is adopted and its record
 * rewritten with the identity. Linux only; elsewhere it stays unverifiable.
 */
async function verifyByEnvironment(
  file: string,
  record: PidRecord,
  probe: ProcessProbe & { kind: "alive" },
): Promise<PidState> {
  // Pid files live at <CODEX_HOME>/app-server-daemon/<name>.pid.
  const home = dirname(dirname(file));
  let environ: string;
  try {
    environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${record.pid}/environ`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || Deno.build.os !== "linux") {
      return { kind: "unverifiable", reason: `cannot read /proc/${record.pid}/environ`, record };
    }
    return { kind: "stale", reason: `pid ${record.pid} belongs to another user`, record };
  }
  // Our processes: the app-server (`… app-server …`), its launcher or the updater loop.
  const argv = Deno.readTextFileSync(`/proc/${record.pid}/cmdline`).split("\0");
  if (!isLaunchedFor(argv, environ, home)) {
    return { kind: "stale", reason: `pid ${record.pid} is not a process of ${home}`, record };
  }
  const adopted: PidRecord = {
    pid: record.pid,
    processStartTime: probe.startTime.toISOString(),
    processIdentity: probe.identity,
  };
  await writeFileAtomic(file, JSON.stringify(adopted) + "\n");
  return { kind: "running", record: adopted, startTime: probe.startTime };
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
