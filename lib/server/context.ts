/**
 * What every command needs for one CODEX_HOME: the resolved paths, the
 * options with their defaults, the clock, and the few primitives every
 * command shares (the lock, the binary to launch, a probe).
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { acquireDaemonLock, type DaemonLock } from "../state/daemon_lock.ts";
import { CodexdError } from "../errors.ts";
import { checkHome, checkPermissions } from "./preflight.ts";
import { locateBinary, type ManagedBinary } from "./managed_binary.ts";
import { type DaemonPaths, daemonPaths, resolveCodexHome } from "../state/paths.ts";
import { type DaemonSettings, migrateSettings } from "../state/settings.ts";

/** Options shared by every lifecycle function. */
export interface DaemonOptions {
  /** CODEX_HOME. @default {`$CODEX_HOME`, else `~/.codex`} */
  codexHome?: string;
  /** Launch this codex binary instead of the managed install (overrides settings `codexBin`). */
  codexBin?: string;
  /** Seconds between SIGTERM and SIGKILL for `stop`/`restart`. @default {settings.shutdownGraceSeconds} */
  graceSeconds?: number;
  /** How long a spawned app-server may take to answer. @default {START_TIMEOUT_MS} */
  startTimeoutMs?: number;
  /** Readiness poll interval. @default {READY_POLL_MS} */
  readyPollMs?: number;
  /** Bound on one control-socket probe. @default {PROBE_TIMEOUT_MS} */
  probeTimeoutMs?: number;
  /** Bound on waiting for `remoteControl/status/changed` while `connecting`. @default {REMOTE_CONTROL_SETTLE_TIMEOUT_MS} */
  remoteControlTimeoutMs?: number;
  /** Bound on waiting for `daemon.lock`. @default {LOCK_TIMEOUT_MS} */
  lockTimeoutMs?: number;
  /** Time source, injected by tests. @default {systemClock} */
  clock?: Clock;
  /**
   * Codex's global flags for the app-server this command launches, as argv
   * pieces (`["-c", "key=value", "--enable", "FEATURE"]`), as the reference
   * accepts on every daemon command. @default {[]}
   */
  configArgs?: string[];
  /** The OS to act as; tests inject one to check the platform guard. @default {Deno.build.os} */
  os?: typeof Deno.build.os;
  /** Let root manage a CODEX_HOME owned by another user. @default {false} */
  allowForeignHome?: boolean;
}

/** Everything codexd needs for one command on one CODEX_HOME. */
export interface DaemonContext {
  /** File layout. */
  paths: DaemonPaths;
  /** The options given, with defaults applied where needed. */
  options: DaemonOptions;
  /** The clock. */
  clock: Clock;
  /**
   * The uids whose processes codexd may signal: the home owner's (its own
   * when it owns the home, or the home does not exist yet). Root acting on a
   * user's home gets only that user's uid, never its own: a forged pid record
   * naming a root process must not make root kill it.
   */
  signallableUids: number[];
  /**
   * Set when codexd's own uid is not in {@linkcode signallableUids} (root on
   * a user's home): the home whose processes codexd launched itself (as its
   * own uid, with `CODEX_HOME` in their environment) it may still signal.
   */
  launchedFor?: string;
}

/**
 * Resolves CODEX_HOME and checks the platform, Deno's permissions and that
 * the home is safe to act on (see `preflight.ts`).
 *
 * @throws {CodexdError} `UNSUPPORTED_PLATFORM` off Unix, `PERMISSION_DENIED`
 * without the permissions codexd needs, `HOME_INVALID` / `HOME_UNSAFE`.
 */
export function createContext(options: DaemonOptions = {}): DaemonContext {
  const os = options.os ?? Deno.build.os;
  if (os === "windows") {
    throw new CodexdError(
      "UNSUPPORTED_PLATFORM",
      `Cannot manage the app-server on ${os}: codexd supports Linux and macOS only`,
    );
  }
  checkPermissions(os);
  const codexHome = resolveCodexHome(options.codexHome);
  const paths = daemonPaths(codexHome);
  const owner = checkHome(paths, { allowForeignHome: options.allowForeignHome });
  const self = Deno.uid() ?? -1;
  const foreign = owner !== undefined && owner !== self;
  return {
    paths,
    options,
    clock: options.clock ?? systemClock,
    signallableUids: foreign ? [owner] : [self],
    ...(foreign ? { launchedFor: paths.codexHome } : {}),
  };
}

/** Options of {@linkcode lockDaemon}. */
export interface LockDaemonOptions {
  /**
   * The command may create CODEX_HOME (only `bootstrap`); every other one
   * fails `HOME_NOT_FOUND` on a missing home and creates nothing. @default {false}
   */
  createHome?: boolean;
  /**
   * Move a `settings.json` in codexd's older layout to the shared one
   * (`migrateSettings`). Off only for a caller that reads settings right
   * after and migrates what it read (`locked_home.ts`: one read, not two).
   * @default {true}
   */
  migrate?: boolean;
}

/**
 * Takes `daemon.lock` for a mutating command.
 *
 * @throws {CodexdError} `HOME_NOT_FOUND` for a missing CODEX_HOME (unless `createHome`).
 */
export async function lockDaemon(
  ctx: DaemonContext,
  options: LockDaemonOptions = {},
): Promise<DaemonLock> {
  if (!options.createHome) requireHome(ctx);
  const lock = await acquireDaemonLock(ctx.paths.lockFile, {
    timeoutMs: ctx.options.lockTimeoutMs,
    clock: ctx.clock,
  });
  // A settings.json in codexd's older layout breaks every reference command:
  // the first mutating command moves it to the shared one.
  if (options.migrate !== false) await migrateSettings(ctx.paths).catch(() => false);
  return lock;
}

/** The binary to launch under the given settings and options. */
export function binaryFor(ctx: DaemonContext, settings: DaemonSettings): ManagedBinary {
  return locateBinary(ctx.paths, ctx.options.codexBin ?? settings.codexBin);
}

/**
 * "Does it answer?", bounded by the context's `probeTimeoutMs`: the one
 * probe entry (`app_server/probe.ts`), offered here beside the other
 * primitives every command shares.
 */
export { probe } from "../app_server/probe.ts";

/**
 * Fails for a CODEX_HOME that does not exist, before anything is created
 * under it (a typo must not grow `typo/app-server-daemon/`).
 *
 * @throws {CodexdError} `HOME_NOT_FOUND`.
 */
export function requireHome(ctx: DaemonContext): void {
  try {
    if (Deno.statSync(ctx.paths.codexHome).isDirectory) return;
  } catch {
    // missing: fall through
  }
  throw new CodexdError(
    "HOME_NOT_FOUND",
    `Cannot manage ${ctx.paths.codexHome}: no such CODEX_HOME directory`,
    "check --codex-home / $CODEX_HOME, or run: codexd bootstrap --install",
  );
}
