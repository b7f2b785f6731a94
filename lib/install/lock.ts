/**
 * The install lock shared with install.sh, under
 * `CODEX_HOME/packages/standalone/`:
 *
 * - `install.lock`: an exclusive flock (install.sh's choice wherever
 *   `flock`/`lockf` exist);
 * - `install.lock.d/` with `pid` and `started_at` inside: install.sh's mkdir
 *   lock, used where `flock` is missing; taken too so either kind of
 *   installer waits for us.
 *
 * @module
 */
import { readTextIfPresent } from "../atomic_file.ts";
import { systemClock } from "../clock.ts";
import { CodexdError } from "../errors.ts";
import { type DaemonPaths, join } from "../paths.ts";
import { probeProcess } from "../process_identity.ts";

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

const LOCK_POLL_MS = 250;

/**
 * Whether install.sh's mkdir lock may be taken over, by install.sh's own
 * rule: never while its owner lives; else once it is older than
 * {@linkcode MKDIR_LOCK_STALE_MS}, or at once when its age is unknown.
 */
export function mkdirLockIsStale(
  holder: { alive: boolean; startedAtMs?: number },
  nowMs: number,
): boolean {
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

async function readMkdirHolder(dir: string): Promise<{ pid?: number; startedAtMs?: number }> {
  const pidText = await readTextIfPresent(join(dir, "pid")).catch(() => undefined);
  const startedText = await readTextIfPresent(join(dir, "started_at")).catch(() => undefined);
  const pid = Number(pidText?.trim());
  const started = Number(startedText?.trim());
  let startedAtMs = Number.isSafeInteger(started) && started > 0 ? started * 1000 : undefined;
  // install.sh writes pid and started_at just after mkdir: between the two,
  // the directory's own mtime is the start (install.sh itself would treat it
  // as stale at once and could steal a lock that is being taken).
  startedAtMs ??= (await Deno.stat(dir).catch(() => undefined))?.mtime?.getTime();
  return { pid: Number.isSafeInteger(pid) && pid > 1 ? pid : undefined, startedAtMs };
}

async function takeMkdirLock(dir: string, deadline: number, timeoutMs: number): Promise<void> {
  for (;;) {
    try {
      await Deno.mkdir(dir, { mode: 0o755 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const holder = await readMkdirHolder(dir);
      // An unreadable identity counts as alive: never take over on a guess.
      const alive = holder.pid !== undefined && probeProcess(holder.pid).kind !== "dead";
      if (mkdirLockIsStale({ alive, startedAtMs: holder.startedAtMs }, Date.now())) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        continue;
      }
      if (Date.now() >= deadline) {
        throw lockTimeout(dir, `held by pid ${holder.pid ?? "unknown"}`, timeoutMs);
      }
      await systemClock.sleep(LOCK_POLL_MS);
      continue;
    }
    await Deno.writeTextFile(join(dir, "pid"), `${Deno.pid}\n`);
    await Deno.writeTextFile(join(dir, "started_at"), `${Math.floor(Date.now() / 1000)}\n`);
    return;
  }
}

/**
 * Takes the locks install.sh takes, so codexd, install.sh and the reference's
 * updater never install into one CODEX_HOME at once: an exclusive flock on
 * `install.lock`, then the `install.lock.d` directory. Waits at most
 * `timeoutMs`; use with `await using`.
 *
 * @throws {CodexdError} `LOCK_TIMEOUT` naming what holds it.
 */
export async function acquireInstallLock(
  paths: DaemonPaths,
  options: { timeoutMs?: number } = {},
): Promise<InstallLock> {
  const { timeoutMs = INSTALL_LOCK_TIMEOUT_MS } = options;
  const deadline = Date.now() + timeoutMs;
  await Deno.mkdir(paths.standaloneDir, { recursive: true });
  const lockFile = join(paths.standaloneDir, INSTALL_LOCK_FILE);
  const lockDir = join(paths.standaloneDir, INSTALL_LOCK_DIR);
  const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o644 });
  try {
    while (!(await file.tryLock(true))) {
      if (Date.now() >= deadline) {
        throw lockTimeout(lockFile, "another installer holds it", timeoutMs);
      }
      await systemClock.sleep(LOCK_POLL_MS);
    }
    await takeMkdirLock(lockDir, deadline, timeoutMs);
  } catch (error) {
    file.close();
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
      file.close();
    }
  };
  return { release, [Symbol.asyncDispose]: release };
}
