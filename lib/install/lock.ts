/**
 * The install lock shared with install.sh, under
 * `CODEX_HOME/packages/standalone/`:
 *
 * - `install.lock`: an exclusive flock (install.sh's choice wherever
 *   `flock`/`lockf` exist);
 * - `install.lock.d/` with `pid` and `started_at` inside: install.sh's mkdir
 *   lock, used where `flock` is missing; taken too so either kind of
 *   installer waits for us. codexd adds `owner` (`codexd@<hostname>`): such
 *   a directory found while we hold the flock belongs to a codexd that died
 *   (a live one would still hold the flock), so it is taken over at once
 *   instead of after install.sh's 10-minute window.
 *
 * @module
 */
import { openNoFollowSync, readTextIfPresent, writeFileAtomic } from "../state/atomic_file.ts";
import { systemClock } from "../clock.ts";
import { CodexdError } from "../errors.ts";
import { type DaemonPaths, join } from "../state/paths.ts";
import { probeProcess } from "../process/process_identity.ts";
import { interrupted } from "./step.ts";

/** Bound on waiting for another install (install.sh or codexd) to finish. */
export const INSTALL_LOCK_TIMEOUT_MS = 10 * 60_000;
/**
 * install.sh's `LOCK_STALE_AFTER_SECS`: a mkdir lock whose owner is gone is
 * taken over only after this long (the pid may belong to another host).
 */
export const MKDIR_LOCK_STALE_MS = 600_000;
/** Lock file shared with install.sh (flock). */
export const INSTALL_LOCK_FILE = "install.lock";
/** install.sh's fallback lock directory, with `pid` and `started_at` inside. */
export const INSTALL_LOCK_DIR = "install.lock.d";

/** The file codexd adds to `install.lock.d`. */
export const MKDIR_LOCK_OWNER_FILE = "owner";

const LOCK_POLL_MS = 250;

function ownerTag(): string | undefined {
  try {
    // Queried first: without the permission, Deno would prompt on a terminal.
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state !== "granted") {
      return undefined;
    }
    return `codexd@${Deno.hostname()}`;
  } catch {
    return undefined; // no --allow-sys: no fast takeover
  }
}

/**
 * Whether install.sh's mkdir lock may be taken over, by install.sh's own
 * rule: never while its owner lives; else once it is older than
 * {@linkcode MKDIR_LOCK_STALE_MS}, or at once when its age is unknown. One
 * exception: `orphaned` (a codexd of this host wrote it, and we hold the
 * flock that codexd held with it) is taken over at once, even when its pid
 * was reused.
 */
export function mkdirLockIsStale(
  holder: { alive: boolean; startedAtMs?: number; orphaned?: boolean },
  nowMs: number,
): boolean {
  if (holder.orphaned) return true;
  if (holder.alive) return false;
  if (holder.startedAtMs === undefined) return true;
  return nowMs - holder.startedAtMs >= MKDIR_LOCK_STALE_MS;
}

/** A held install lock. */
export interface InstallLock extends AsyncDisposable {
  /** Releases both locks; idempotent. */
  release(): Promise<void>;
}

function lockTimeout(what: string, holder: string, timeoutMs: number): CodexdError {
  return new CodexdError(
    "LOCK_TIMEOUT",
    `Cannot acquire install lock ${what}: ${holder} for ${Math.round(timeoutMs / 1000)} s`,
  );
}

async function readMkdirHolder(
  dir: string,
): Promise<{ pid?: number; startedAtMs?: number; orphaned: boolean }> {
  const owner = await readTextIfPresent(join(dir, MKDIR_LOCK_OWNER_FILE)).catch(() => undefined);
  const tag = ownerTag();
  const orphaned = tag !== undefined && owner?.trim() === tag;
  const pidText = await readTextIfPresent(join(dir, "pid")).catch(() => undefined);
  const startedText = await readTextIfPresent(join(dir, "started_at")).catch(() => undefined);
  const pid = Number(pidText?.trim());
  const started = Number(startedText?.trim());
  let startedAtMs = Number.isSafeInteger(started) && started > 0 ? started * 1000 : undefined;
  // install.sh writes pid and started_at just after mkdir: between the two,
  // the directory's own mtime is the start (install.sh itself would treat it
  // as stale at once and could steal a lock that is being taken).
  startedAtMs ??= (await Deno.stat(dir).catch(() => undefined))?.mtime?.getTime();
  return { pid: Number.isSafeInteger(pid) && pid > 1 ? pid : undefined, startedAtMs, orphaned };
}

async function takeMkdirLock(
  dir: string,
  deadline: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal?.aborted) throw interrupted(signal);
    try {
      await Deno.mkdir(dir, { mode: 0o755 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const holder = await readMkdirHolder(dir);
      // An unreadable identity counts as alive: never take over on a guess.
      const alive = holder.pid !== undefined && probeProcess(holder.pid).kind !== "dead";
      if (mkdirLockIsStale({ ...holder, alive }, Date.now())) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        continue;
      }
      if (Date.now() >= deadline) {
        throw lockTimeout(dir, `held by pid ${holder.pid ?? "unknown"}`, timeoutMs);
      }
      await systemClock.sleep(LOCK_POLL_MS);
      continue;
    }
    await writeFileAtomic(join(dir, "pid"), `${Deno.pid}\n`, { mode: 0o644 });
    await writeFileAtomic(join(dir, "started_at"), `${Math.floor(Date.now() / 1000)}\n`, {
      mode: 0o644,
    });
    const tag = ownerTag();
    if (tag !== undefined) {
      await writeFileAtomic(join(dir, MKDIR_LOCK_OWNER_FILE), `${tag}\n`, { mode: 0o644 });
    }
    return;
  }
}

/**
 * Takes the locks install.sh takes, so codexd, install.sh and the reference's
 * updater never install into one CODEX_HOME at once: an exclusive flock on
 * `install.lock`, then the `install.lock.d` directory. Waits at most
 * `timeoutMs` (0: only tries); use with `await using`.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT` naming what holds it; `INTERRUPTED`
 * when `signal` aborts the wait.
 */
export async function acquireInstallLock(
  paths: DaemonPaths,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<InstallLock> {
  const { timeoutMs = INSTALL_LOCK_TIMEOUT_MS, signal } = options;
  const deadline = Date.now() + timeoutMs;
  const lockDir = join(paths.standaloneDir, INSTALL_LOCK_DIR);
  const file = await flockWithin(
    paths,
    INSTALL_LOCK_FILE,
    0o644,
    "another installer holds it",
    deadline,
    timeoutMs,
    signal,
  );
  try {
    await takeMkdirLock(lockDir, deadline, timeoutMs, signal);
  } catch (error) {
    await unlockAndClose(file);
    throw error;
  }
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    try {
      // Only our own directory: a stale-lock takeover may have replaced it.
      if (
        (await readTextIfPresent(join(lockDir, "pid")).catch(() => ""))?.trim() === `${Deno.pid}`
      ) {
        await Deno.remove(lockDir, { recursive: true });
      }
    } finally {
      await unlockAndClose(file);
    }
  };
  return { release, [Symbol.asyncDispose]: release };
}

/**
 * Opens `name` under the standalone directory and waits (until `deadline`)
 * for an exclusive flock on it.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT` saying `holder`; `INTERRUPTED` when `signal` aborts.
 */
async function flockWithin(
  paths: DaemonPaths,
  name: string,
  mode: number,
  holder: string,
  deadline: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Deno.FsFile> {
  await Deno.mkdir(paths.standaloneDir, { recursive: true });
  const lockFile = join(paths.standaloneDir, name);
  // Never through a planted symlink (root may install into a user's home).
  const file = openNoFollowSync(lockFile, { mode, label: "install lock" });
  try {
    while (!(await file.tryLock(true))) {
      if (signal?.aborted) throw interrupted(signal);
      if (Date.now() >= deadline) throw lockTimeout(lockFile, holder, timeoutMs);
      await systemClock.sleep(LOCK_POLL_MS);
    }
    return file;
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Unlocks explicitly before closing: closing alone releases the flock only
 * once every in-flight op has dropped the file, which under load can be
 * later than the next installer's try (as daemon_lock.ts does).
 */
async function unlockAndClose(file: Deno.FsFile): Promise<void> {
  await file.unlock().catch(() => {});
  file.close();
}

/** codexd's own lock around install.sh runs, beside `install.lock`. */
export const SCRIPT_RUN_LOCK_FILE = "codexd-install-sh.lock";

/**
 * Serializes codexd's install.sh runs on one CODEX_HOME. install.sh takes
 * `install.lock` itself, so codexd cannot hold that one around it; without a
 * lock of its own, two parallel `update`s would both read "nothing installed"
 * before either ran, and both report `installed: true`. Waits at most
 * `timeoutMs`; use with `await using`.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT`; `INTERRUPTED` when `signal` aborts the wait.
 */
export async function acquireScriptRunLock(
  paths: DaemonPaths,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<AsyncDisposable> {
  const { timeoutMs = INSTALL_LOCK_TIMEOUT_MS, signal } = options;
  const file = await flockWithin(
    paths,
    SCRIPT_RUN_LOCK_FILE,
    0o600,
    "another codexd install.sh run holds it",
    Date.now() + timeoutMs,
    timeoutMs,
    signal,
  );
  return { [Symbol.asyncDispose]: () => unlockAndClose(file) };
}
