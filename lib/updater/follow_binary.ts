/**
 * `codexd follow-binary`: what the updater loop runs when the binary the
 * app-server was launched from changed on disk (its `stat` signature differs
 * from `launched-binary`, see `state/binary_watch.ts`). Someone upgraded codex out
 * of band — install.sh run by hand over `packages/standalone/current`,
 * `npm i -g @openai/codex` under `--codex-bin`, the reference switching its
 * package — and the server still runs the old image. This pass runs the
 * binary's `--version` (bounded; only now, never per check) and, when it
 * reports another version than the server runs, restarts under the
 * turn-safety rule (idle → now; busy or outside the window → a pending
 * restart with reason `binary replaced`, applied by `apply-pending`; the
 * deadline interrupts). One updater-log line per replacement noticed.
 *
 * `updater.followBinary: false` turns it off. A codexd pin holds: a managed
 * install replaced by another version than the pinned one is not followed
 * (the next update pass restores the pin).
 *
 * Files: reads `settings.json`, the pid records, `pending-restart.json`;
 * writes `launched-binary`, the updater log, and what a restart writes.
 *
 * @module
 */
import { tryAcquireDaemonLock } from "../state/daemon_lock.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  probe,
} from "../server/context.ts";
import { readBinaryFacts } from "../server/managed_binary.ts";
import { ensureStateDir, join } from "../state/paths.ts";
import { readServerState } from "../server/server_record.ts";
import { type DaemonSettings, loadSettings } from "../state/settings.ts";
import { appendUpdaterLog } from "../state/updater_log.ts";
import { oneLine } from "./update_report.ts";
import {
  type LaunchedBinary,
  MISSING_SIGNATURE,
  readLaunchedBinary,
  removeLaunchedBinary,
  signatureNow,
  signatureOf,
  writeLaunchedBinary,
} from "../state/binary_watch.ts";
import { referencePackageDir } from "../state/pin.ts";
import type { PendingRestart } from "../idle/policy.ts";
import type { InterruptedTurn } from "../idle/probe.ts";

/** The reason a followed upgrade's restart carries (`status` shows it in `pendingRestart`). */
export const BINARY_REPLACED = "binary replaced";

/** What one `follow-binary` pass found and did. */
export interface FollowBinaryResult {
  /**
   * `disabled` (`updater.followBinary: false`), `notRunning`, `unwatched` (a
   * server codexd did not launch whose image cannot be read, e.g. without
   * `/proc`: update passes still compare versions), `unchanged`,
   * `missing` (the path is gone: the server keeps running), `unreadable`
   * (`--version` failed), `sameVersion` (touched or reinstalled, same
   * release), `pinned` (another version than codexd's pin: not followed),
   * `pending` (a restart already waits and will run the new binary), `busy`
   * (lock held: next check), `deferred` (turns run: restart pending),
   * `restarted`.
   */
  status:
    | "disabled"
    | "notRunning"
    | "unwatched"
    | "unchanged"
    | "missing"
    | "unreadable"
    | "sameVersion"
    | "pinned"
    | "pending"
    | "busy"
    | "deferred"
    | "restarted";
  /** The watched path. */
  path?: string;
  /** The version the server ran before. */
  fromVersion?: string;
  /** The version the binary reports now. */
  toVersion?: string;
  /** After `restarted`: the new server's pid. */
  pid?: number;
  /** After `deferred`: the restart that waits. */
  pendingRestart?: PendingRestart;
  /** After `deferred`: turns running. */
  activeTurns?: number;
  /** Turns interrupted because a pending restart's deadline passed. */
  interruptedTurns?: InterruptedTurn[];
}

/** What {@linkcode decideFollow} looks at. */
export interface FollowFacts {
  /** The signature recorded at launch. */
  recorded: string;
  /** The signature now. */
  now: string;
  /** What the binary reports now; `undefined` when `--version` failed (or was not asked yet). */
  newVersion?: string;
  /** What the server runs. */
  runningVersion: string;
  /** codexd's pin, when it applies to the watched path (the managed install). */
  pinnedVersion?: string;
  /** A restart is pending already. */
  pending: boolean;
}

/** The decision, before and after `--version` (pure; tested by a table). */
export type FollowDecision =
  | { kind: "unchanged" | "missing" | "askVersion" | "unreadable" | "sameVersion" }
  | { kind: "pinned" | "pending" | "restart"; toVersion: string };

/** Decides what a changed signature means (call again with `newVersion` after `askVersion`). */
export function decideFollow(facts: FollowFacts): FollowDecision {
  if (facts.now === facts.recorded) return { kind: "unchanged" };
  if (facts.now === MISSING_SIGNATURE) return { kind: "missing" };
  if (facts.newVersion === undefined) return { kind: "askVersion" };
  if (facts.newVersion === "?") return { kind: "unreadable" };
  if (facts.newVersion === facts.runningVersion) return { kind: "sameVersion" };
  const toVersion = facts.newVersion;
  if (facts.pinnedVersion !== undefined && facts.pinnedVersion !== toVersion) {
    return { kind: "pinned", toVersion };
  }
  return facts.pending ? { kind: "pending", toVersion } : { kind: "restart", toVersion };
}

/** Options for {@linkcode followBinary}. */
export interface FollowBinaryOptions extends DaemonOptions {
  /** Gap between the two idle probes. @default {IDLE_CONFIRM_GAP_MS} */
  idleGapMs?: number;
}

/**
 * The watch for a server codexd did not launch (or launched before this
 * record existed): the path it runs from, and the signature of its running
 * image (`/proc/PID/exe` stat follows to the inode in memory, deleted or not).
 */
async function adoptedWatch(
  ctx: DaemonContext,
  settings: DaemonSettings,
  pid: number,
  version: string,
): Promise<LaunchedBinary | undefined> {
  let exe: string;
  let image: string;
  try {
    exe = (await Deno.readLink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, "");
    image = signatureOf(await Deno.stat(`/proc/${pid}/exe`));
  } catch {
    return undefined; // no /proc (macOS) or not ours to read: the update pass still notices
  }
  const reference = referencePackageDir(ctx.paths);
  const path = exe.startsWith(`${reference}/releases/`)
    ? join(reference, "current", "bin", "codex")
    : exe.startsWith(`${ctx.paths.standaloneDir}/releases/`)
    ? binaryFor(ctx, { ...settings, codexBin: undefined }).path
    : exe;
  return { signature: image, pid, version, path };
}

/**
 * One pass (the updater loop's `follow-binary`).
 *
 * @example
 * ```ts ignore
 * const { status } = await followBinary();
 * ```
 */
export async function followBinary(
  options: FollowBinaryOptions = {},
): Promise<FollowBinaryResult> {
  const ctx = createContext(options);
  try {
    return await followOnce(ctx, options);
  } catch (error) {
    // The loop discards stdout: this line is the pass's record.
    await appendUpdaterLog(ctx.paths, `follow-binary: error: ${oneLine(error)}`);
    throw error;
  }
}

async function followOnce(
  ctx: DaemonContext,
  options: FollowBinaryOptions,
): Promise<FollowBinaryResult> {
  const { settings } = await loadSettings(ctx.paths);
  if (!settings.updater.followBinary) {
    await removeLaunchedBinary(ctx.paths);
    return { status: "disabled" };
  }
  const state = await readServerState(ctx.paths);
  if (state.kind !== "running") {
    // Nothing runs an old image; the next launch records its binary.
    await removeLaunchedBinary(ctx.paths);
    return { status: "notRunning" };
  }
  const recorded = await readLaunchedBinary(ctx.paths);
  const ours = recorded?.pid === state.record.pid ? recorded : undefined;
  // The common call from an update pass: nothing changed, nothing to ask the server.
  if (ours !== undefined && signatureNow(ours.path) === ours.signature) {
    return { status: "unchanged", path: ours.path, fromVersion: ours.version };
  }
  const info = await probe(ctx);
  const watch = ours ??
    await adoptedWatch(ctx, settings, state.record.pid, info?.appServerVersion ?? "?");
  if (watch === undefined) {
    await removeLaunchedBinary(ctx.paths);
    return { status: "unwatched" };
  }
  if (ours === undefined) {
    await ensureStateDir(ctx.paths);
    await writeLaunchedBinary(ctx.paths, watch);
  }
  const path = watch.path;
  const managed = path === binaryFor(ctx, { ...settings, codexBin: undefined }).path;
  const { readPendingRestart } = await import("../idle/pending.ts");
  const facts: FollowFacts = {
    recorded: watch.signature,
    now: signatureNow(path),
    runningVersion: info?.appServerVersion ?? watch.version,
    ...(managed && settings.updater.pinnedVersion !== undefined
      ? { pinnedVersion: settings.updater.pinnedVersion }
      : {}),
    pending: (await readPendingRestart(ctx.paths)) !== undefined,
  };
  let decision = decideFollow(facts);
  if (decision.kind === "askVersion") {
    const newVersion = await readBinaryFacts(ctx.paths, path).then((f) => f.version, () => "?");
    decision = decideFollow({ ...facts, newVersion });
  }
  const base = { path, fromVersion: facts.runningVersion };
  // From here on the new signature is the one to compare with, unless the
  // lock is busy (then the next check tries again).
  const remember = (): Promise<void> =>
    writeLaunchedBinary(ctx.paths, { ...watch, signature: facts.now });
  const log = (line: string): Promise<void> => appendUpdaterLog(ctx.paths, line);
  switch (decision.kind) {
    case "unchanged":
      return { status: "unchanged", ...base };
    case "missing":
      await remember();
      await log(`binary ${path} is gone; the app-server keeps running ${facts.runningVersion}`);
      return { status: "missing", ...base };
    case "askVersion": // not after asking; counts as unreadable
    case "unreadable":
      await remember();
      await log(`binary ${path} changed but its --version failed; not restarting`);
      return { status: "unreadable", ...base };
    case "sameVersion":
      await remember();
      return { status: "sameVersion", ...base, toVersion: facts.runningVersion };
    case "pinned":
      await remember();
      await log(
        `binary replaced: ${path} now reports ${decision.toVersion}, but codexd is pinned to ${facts.pinnedVersion}: not following (the next update pass restores it)`,
      );
      return { status: "pinned", ...base, toVersion: decision.toVersion };
    case "pending":
      await remember();
      return { status: "pending", ...base, toVersion: decision.toVersion };
  }
  return await restartOntoReplaced(ctx, settings, { ...base, toVersion: decision.toVersion }, {
    remember,
    managedPath: binaryFor(ctx, settings).path,
    idleGapMs: options.idleGapMs,
  });
}

async function restartOntoReplaced(
  ctx: DaemonContext,
  settings: DaemonSettings,
  found: { path: string; fromVersion: string; toVersion: string },
  how: { remember: () => Promise<void>; managedPath: string; idleGapMs?: number },
): Promise<FollowBinaryResult> {
  const lock = await tryAcquireDaemonLock(ctx.paths.lockFile, ctx.clock);
  if (lock === undefined) return { status: "busy", ...found };
  try {
    await appendUpdaterLog(
      ctx.paths,
      `binary replaced: ${found.path} now reports ${found.toVersion}; the app-server runs ${found.fromVersion}`,
    );
    // A binary settings do not name (the reference's package) is launched as such.
    const binaryPath = found.path === how.managedPath ? undefined : found.path;
    const on = binaryPath === undefined
      ? ctx
      : { ...ctx, options: { ...ctx.options, codexBin: binaryPath } };
    const { restartOrDefer } = await import("./deferred_restart.ts");
    const { restartLocked } = await import("../server/lifecycle.ts");
    const done = await restartOrDefer(
      ctx,
      settings,
      {
        kind: "restart",
        toVersion: found.toVersion,
        reason: BINARY_REPLACED,
        ...(binaryPath !== undefined ? { binaryPath } : {}),
      },
      (open) => restartLocked(on, settings, open),
      { idleGapMs: how.idleGapMs },
    );
    if (!done.restarted) {
      await how.remember();
      return {
        status: "deferred",
        ...found,
        pendingRestart: done.pendingRestart,
        ...(done.activeTurns !== undefined ? { activeTurns: done.activeTurns } : {}),
      };
    }
    return {
      status: "restarted",
      ...found,
      ...(typeof done.result.pid === "number" ? { pid: done.result.pid } : {}),
      ...(done.interrupted.length ? { interruptedTurns: done.interrupted } : {}),
    };
  } finally {
    await lock.release();
  }
}
