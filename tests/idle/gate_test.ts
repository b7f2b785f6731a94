/**
 * The turn-safety gate (`lib/idle/gate.ts`): its pure decisions by tables
 * (what it does for each mode and sight, the deadline from the current
 * policy, the boot-clock deadline under wall-clock steps, revalidation of a
 * pending restart), and the structural rule — every command able to stop or
 * restart an app-server reaches the gate, and nothing but the gate signals
 * one (a check over the source and its import graph).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { REPO_ROOT } from "../support/helpers.ts";
import {
  decideGate,
  type GateDecision,
  type GateState,
  mootReason,
  type RunningFacts,
} from "../../lib/idle/gate.ts";
import {
  type ClockReading,
  deadlineAt,
  type DeferralAnchor,
  elapsedSinceDeferral,
  type RestartPolicy,
} from "../../lib/idle/policy.ts";

/** A local-time date at `hh:mm`. */
function at(hhmm: string): Date {
  const [h, m] = hhmm.split(":").map(Number);
  return new Date(2026, 10, 25, h, m, 0, 0);
}

const HOUR = 3_600_000;

Deno.test("decideGate() proceeds, holds or interrupts by mode, sight, window and the current deadline", () => {
  const now = at("03:00");
  const day: RestartPolicy = { restartDeadlineMinutes: 1440 };
  const never: RestartPolicy = { restartDeadlineMinutes: 0 };
  const open: RestartPolicy = { restartDeadlineMinutes: 60, restartWindow: "02:00-05:00" };
  const closed: RestartPolicy = { restartDeadlineMinutes: 60, restartWindow: "12:00-13:00" };
  const busy = { kind: "busy", activeTurns: 2 } as const;
  const table: [string, GateState, RestartPolicy, GateDecision][] = [
    // A user's stop now: whatever runs (the drain, then the grace).
    ["now, busy", { mode: "now", sight: busy }, day, { kind: "proceed" }],
    ["now, cannot tell", { mode: "now", sight: { kind: "cannotTell" } }, day, {
      kind: "proceed",
    }],
    // Nothing live: nothing to cut short.
    ["deferred, none", { mode: "deferred", sight: { kind: "none" } }, day, { kind: "proceed" }],
    ["whenIdle, none", { mode: "whenIdle", sight: { kind: "none" } }, day, { kind: "proceed" }],
    // --when-idle: idle only, never forced.
    ["whenIdle, idle", { mode: "whenIdle", sight: { kind: "idle" } }, day, { kind: "proceed" }],
    ["whenIdle, busy", { mode: "whenIdle", sight: busy, elapsedMs: 99 * HOUR }, day, {
      kind: "hold",
      waitingFor: "activeTurns",
      activeTurns: 2,
    }],
    // Cannot tell is never idle — not even past the deadline.
    ["whenIdle, cannot tell", { mode: "whenIdle", sight: { kind: "cannotTell" } }, day, {
      kind: "hold",
      waitingFor: "answer",
    }],
    [
      "deferred, cannot tell past deadline",
      {
        mode: "deferred",
        sight: { kind: "cannotTell" },
        elapsedMs: 99 * HOUR,
      },
      day,
      { kind: "hold", waitingFor: "answer" },
    ],
    ["deferred, idle", { mode: "deferred", sight: { kind: "idle" } }, day, { kind: "proceed" }],
    ["deferred, busy before deadline", { mode: "deferred", sight: busy, elapsedMs: HOUR }, day, {
      kind: "hold",
      waitingFor: "activeTurns",
      activeTurns: 2,
    }],
    ["deferred, busy at deadline", { mode: "deferred", sight: busy, elapsedMs: 24 * HOUR }, day, {
      kind: "interruptThenProceed",
      activeTurns: 2,
    }],
    // The deadline is the current policy's: 0 means never, however long it waited.
    [
      "deferred, busy, deadline now 0",
      {
        mode: "deferred",
        sight: busy,
        elapsedMs: 99 * HOUR,
      },
      never,
      { kind: "hold", waitingFor: "activeTurns", activeTurns: 2 },
    ],
    // The window gates everything deferred, the forced one included.
    ["deferred, idle, closed window", { mode: "deferred", sight: { kind: "idle" } }, closed, {
      kind: "hold",
      waitingFor: "window",
    }],
    [
      "deferred, unobserved, closed window",
      {
        mode: "deferred",
        sight: { kind: "unobserved" },
      },
      closed,
      { kind: "hold", waitingFor: "window" },
    ],
    [
      "deferred, busy past deadline, closed window",
      {
        mode: "deferred",
        sight: busy,
        elapsedMs: 2 * HOUR,
      },
      closed,
      { kind: "hold", waitingFor: "window" },
    ],
    [
      "deferred, busy past deadline, open window",
      {
        mode: "deferred",
        sight: busy,
        elapsedMs: 2 * HOUR,
      },
      open,
      { kind: "interruptThenProceed", activeTurns: 2 },
    ],
    ["whenIdle ignores the window", { mode: "whenIdle", sight: { kind: "idle" } }, closed, {
      kind: "proceed",
    }],
  ];
  for (const [name, state, policy, expected] of table) {
    assertEquals(decideGate(state, policy, now), expected, name);
  }
});

Deno.test("elapsedSinceDeferral() counts on the boot clock within a boot, so wall-clock steps force nothing early", () => {
  const since = Date.parse("2026-11-25T10:00:00Z");
  const anchor: DeferralAnchor = {
    since: new Date(since).toISOString(),
    sinceUptimeMs: 1_000_000,
    bootId: "boot-a",
  };
  const table: [string, DeferralAnchor, ClockReading, number][] = [
    ["same boot: the boot clock", anchor, {
      wallMs: since + 5 * 60_000,
      uptimeMs: 1_000_000 + 5 * 60_000,
      bootId: "boot-a",
    }, 5 * 60_000],
    ["wall clock stepped 2 h forward: 1 min passed", anchor, {
      wallMs: since + 2 * HOUR + 60_000,
      uptimeMs: 1_060_000,
      bootId: "boot-a",
    }, 60_000],
    ["wall clock stepped back: still counts", anchor, {
      wallMs: since - HOUR,
      uptimeMs: 1_000_000 + 30 * 60_000,
      bootId: "boot-a",
    }, 30 * 60_000],
    ["another boot: the wall clock", anchor, {
      wallMs: since + 3 * HOUR,
      uptimeMs: 5_000,
      bootId: "boot-b",
    }, 3 * HOUR],
    ["no boot clock (macOS, older files): the wall clock", { since: anchor.since }, {
      wallMs: since + HOUR,
    }, HOUR],
    ["never negative", { since: anchor.since }, { wallMs: since - HOUR }, 0],
    ["unparsable since: 0", { since: "yesterday" }, { wallMs: since }, 0],
  ];
  for (const [name, a, now, expected] of table) {
    assertEquals(elapsedSinceDeferral(a, now), expected, name);
  }
});

Deno.test("deadlineAt() shows when the current policy would force, or null for never", () => {
  const now: ClockReading = { wallMs: Date.parse("2026-11-25T12:00:00Z") };
  const anchor: DeferralAnchor = { since: "2026-11-25T11:00:00.000Z" };
  assertEquals(deadlineAt(anchor, now, { restartDeadlineMinutes: 90 }), "2026-11-25T12:30:00.000Z");
  assertEquals(deadlineAt(anchor, now, { restartDeadlineMinutes: 0 }), null);
});

Deno.test("mootReason() drops a pending restart once it no longer changes anything", () => {
  const live: RunningFacts = {
    alive: true,
    runningVersion: "1.0.0",
    managedVersion: "2.0.0",
    flagsMatch: false,
    launchedAfterDeferral: false,
  };
  const update = { kind: "update" as const, toVersion: "2.0.0" };
  const flags = { kind: "restart" as const, toVersion: null };
  const table: [string, typeof update | typeof flags, RunningFacts, string | undefined][] = [
    ["nothing runs", update, { ...live, alive: false }, "no app-server running"],
    ["update still needed", update, live, undefined],
    // A deferred 2.0.0, then `update --version 1.0.0`: a restart would launch 1.0.0 again.
    [
      "current is the running version",
      update,
      { ...live, managedVersion: "1.0.0" },
      "already serving 1.0.0",
    ],
    [
      "already on the target",
      update,
      { ...live, runningVersion: "2.0.0" },
      "already serving 2.0.0",
    ],
    [
      "no answer: cannot judge the version",
      update,
      { ...live, runningVersion: undefined },
      undefined,
    ],
    ["managed version unknown: the target decides", { ...update, toVersion: "1.0.0" }, {
      ...live,
      managedVersion: undefined,
    }, "already serving 1.0.0"],
    ["flags: not relaunched", flags, { ...live, flagsMatch: true }, undefined],
    ["flags: relaunched without them", flags, { ...live, launchedAfterDeferral: true }, undefined],
    ["flags: relaunched with them (stop + start)", flags, {
      ...live,
      flagsMatch: true,
      launchedAfterDeferral: true,
    }, "the app-server was relaunched with the wanted launch flags"],
    ["older files without a kind are updates", { toVersion: "1.0.0" } as typeof update, {
      ...live,
      managedVersion: "1.0.0",
    }, "already serving 1.0.0"],
  ];
  for (const [name, pending, running, expected] of table) {
    assertEquals(mootReason(pending, running), expected, name);
  }
});

// ---- The structural rule: one gate ----

function libFiles(dir = `${REPO_ROOT}/lib`): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...libFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/** Source without comments, so doc text never counts as a call. */
function code(file: string): string {
  return Deno.readTextFileSync(file)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

function rel(file: string): string {
  return file.slice(REPO_ROOT.length + 1);
}

/**
 * Where a process may be signalled outside the gate, and why none of them
 * is an app-server that may run turns.
 */
const SIGNALLERS_OUTSIDE_THE_GATE: Record<string, string> = {
  "lib/process/terminate.ts": "the primitive itself (terminateRecorded, signalGroup)",
  "lib/idle/gate.ts": "THE GATE: the only caller of terminateRecorded for an app-server",
  "lib/server/spawn.ts": "a child this command spawned that never answered: no turn ran on it",
  "lib/updater/loop.ts": "the updater loop's process group (stop --all), not an app-server",
  "lib/process/bounded_command.ts": "helpers (codex --version, systemctl) killed at their deadline",
  "lib/install/script_run.ts": "the installer script's process group",
  "lib/process/interrupt.ts": "re-raising a signal on codexd itself",
};

Deno.test("nothing but the gate signals an app-server: terminateRecorded, signalGroup and Deno.kill appear only where allowed", () => {
  const offenders: string[] = [];
  for (const file of libFiles()) {
    const text = code(file);
    const signals = /\b(terminateRecorded|signalGroup)\s*\(|\bDeno\.kill\s*\(/.test(text);
    if (signals && !(rel(file) in SIGNALLERS_OUTSIDE_THE_GATE)) offenders.push(rel(file));
  }
  assertEquals(offenders, [], "signal only through lib/idle/gate.ts (or add a reason here)");
  // And terminateRecorded, the one way to end a recorded app-server, is the gate's alone
  // among the files that handle app-servers.
  const terminators = libFiles().filter((file) => /\bterminateRecorded\s*\(/.test(code(file)))
    .map(rel);
  assertEquals(terminators.sort(), [
    "lib/idle/gate.ts",
    "lib/process/terminate.ts",
    "lib/server/spawn.ts",
    "lib/updater/loop.ts",
  ]);
  // The gate's pass is only ever opened through throughGate (never forged).
  for (const file of libFiles()) {
    if (rel(file) === "lib/idle/gate.ts") continue;
    assert(!/as\s+GatePass\b/.test(code(file)), `${rel(file)} forges a GatePass`);
  }
});

function importsOf(file: string): string[] {
  const text = code(file);
  const specifiers = [
    ...text.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+"(\.[^"]+)"/gms),
    ...text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((match) => match[1]);
  const dir = file.slice(0, file.lastIndexOf("/"));
  return specifiers.map((s) => new URL(s, `file://${dir}/`).pathname);
}

function reaches(graph: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const node = stack.pop()!;
    if (node === to) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...(graph.get(node) ?? []));
  }
  return false;
}

Deno.test("every command able to stop or restart an app-server goes through the gate", () => {
  const graph = new Map(libFiles().map((file) => [file, importsOf(file)]));
  const gate = `${REPO_ROOT}/lib/idle/gate.ts`;
  // command -> the module that implements it.
  const commands: Record<string, string> = {
    stop: "lib/stop.ts",
    restart: "lib/restart.ts",
    update: "lib/update.ts",
    "update --updater-pass": "lib/updater/pass.ts",
    "follow-binary": "lib/updater/follow_binary.ts",
    "apply-pending": "lib/updater/apply_pending.ts",
    "enable-remote-control / disable-remote-control": "lib/remote_control.ts",
    bootstrap: "lib/bootstrap.ts",
    "enable-autostart / disable-autostart": "lib/autostart.ts",
  };
  for (const [command, module] of Object.entries(commands)) {
    assert(
      reaches(graph, `${REPO_ROOT}/${module}`, gate),
      `${command} (${module}) bypasses the gate`,
    );
  }
  // Only the gate reaches the primitive that ends a recorded app-server
  // (the exceptions end no app-server that may run turns: see above).
  const terminate = `${REPO_ROOT}/lib/process/terminate.ts`;
  const direct = libFiles().filter((file) => (graph.get(file) ?? []).includes(terminate)).map(rel)
    .sort();
  assertEquals(direct, [
    "lib/idle/gate.ts",
    "lib/server/spawn.ts",
    "lib/stop.ts", // warmProcessApi only (no signal: checked above)
    "lib/updater/loop.ts",
  ]);
  // Supervision only starts a dead server: it never reaches a stop.
  assert(!/\bthroughGate\b|\.end\(/.test(code(`${REPO_ROOT}/lib/updater/supervise.ts`)));
});
