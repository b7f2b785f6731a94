/**
 * The checks before codexd acts on a CODEX_HOME at all: that Deno granted
 * the permissions codexd needs, and that the home is safe to act on.
 *
 * Permissions: on Linux codexd reads `/proc/PID/stat` and
 * `/proc/sys/kernel/random/boot_id` for every pid record, and Deno 2 grants
 * reads under `/proc` only with *every* permission (measured on 2.9.6:
 * `--allow-read --allow-write --allow-env --allow-run` gets "NotCapable:
 * Requires all access to /proc/N/stat"; all eight `--allow-*` flags or `-A`
 * work). Without this check a careful script author's flags made `start` wait
 * forever for a pid record it could never write. On Linux the check is the
 * boot-id read codexd needs anyway; the eight `Deno.permissions.querySync`
 * calls (~0.3 ms) run only to name what is missing.
 *
 * Home safety: codexd runs the binary that `settings.json` names
 * (`codexBin`), so whoever can write CODEX_HOME or its state directory
 * chooses what codexd executes: a home writable by others, or owned by
 * another user, is refused (`HOME_UNSAFE`), except that root may manage a
 * user's home with an explicit `allowForeignHome`. A home that is not a
 * directory is `HOME_INVALID`. An existing state directory with group or
 * other bits is tightened to 0700 (it held 0755 forever before).
 *
 * One file (not two) because both run on every command's hot path, where
 * each module costs start-up time.
 *
 * Touches: stats CODEX_HOME and `app-server-daemon/`, chmods the latter.
 *
 * @module
 */
import { CodexdError, shellQuote } from "../errors.ts";
import type { DaemonPaths } from "../state/paths.ts";
import { readBootId } from "../process/process_identity.ts";

/** A permission name; `import` is missing from Deno 2.9's `Deno.PermissionName` type. */
export type PermissionName = Deno.PermissionName | "import";

/** The permissions codexd needs on each OS. */
export function requiredPermissions(os: typeof Deno.build.os): PermissionName[] {
  // /proc reads need all of them on Linux; elsewhere (macOS: `ps`, `sysctl`) fewer.
  return os === "linux"
    ? ["read", "write", "env", "run", "sys", "net", "ffi", "import"]
    : ["read", "write", "env", "run"];
}

/** The required permissions that are not granted (pure over `query`, for tests). */
export function missingPermissions(
  os: typeof Deno.build.os,
  query: (name: PermissionName) => Deno.PermissionState = (name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state,
): PermissionName[] {
  return requiredPermissions(os).filter((name) => query(name) !== "granted");
}

/**
 * Fails fast when Deno was started without the permissions codexd needs.
 *
 * @throws {CodexdError} `PERMISSION_DENIED`, with the `deno run` flags to use.
 */
export function checkPermissions(os: typeof Deno.build.os = Deno.build.os): void {
  if (os === "linux") {
    // The boot id is read (and cached) for every pid record anyway: one read
    // that succeeds exactly when Deno grants /proc, ~10x cheaper than 8 queries.
    try {
      readBootId();
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) return; // no /proc: reported where used
    }
  }
  const missing = missingPermissions(os);
  if (missing.length === 0) return;
  const why = os === "linux" ? " (Deno reads /proc only with every permission)" : "";
  throw new CodexdError(
    "PERMISSION_DENIED",
    `Cannot manage the app-server: Deno lacks ${
      missing.map((name) => `--allow-${name}`).join(", ")
    }${why}`,
    "deno run -A jsr:@codexd/daemon <command>",
  );
}

/** What a stat says about a directory's safety, as the pure decision needs it. */
export interface DirFacts {
  /** Whether it is a directory (after following symlinks for CODEX_HOME). */
  isDirectory: boolean;
  /** Whether the path itself is a symlink (`lstat`). */
  isSymlink: boolean;
  /** Owner uid. */
  uid: number;
  /** Group id. */
  gid: number;
  /** Permission bits. */
  mode: number;
}

/** Who is asking: this process's uid and gid. */
export interface Asker {
  /** This process's uid. */
  uid: number;
  /** This process's gid. */
  gid: number;
  /** Root may manage another user's home when this is set. */
  allowForeignHome: boolean;
}

/** The verdict on one directory. */
export type DirVerdict =
  | { kind: "ok" }
  | { kind: "tighten" } // ours, but readable by others: chmod 0700 (state dir only)
  | { kind: "invalid"; reason: string }
  | { kind: "unsafe"; reason: string; hint: string };

/**
 * Decides whether `dir` may be used. Pure, tested by a table. Trusted owners
 * are the asker and root; another user's directory needs `allowForeignHome`
 * (root managing a user's home). Writable by others is never accepted;
 * group-writable only when the group is the asker's own.
 */
export function judgeDir(
  path: string,
  facts: DirFacts,
  asker: Asker,
  role: "home" | "state",
): DirVerdict {
  if (role === "state" && facts.isSymlink) {
    return {
      kind: "unsafe",
      reason: `${path} is a symlink`,
      hint: `remove ${shellQuote(path)} (codexd recreates it)`,
    };
  }
  if (!facts.isDirectory) {
    return { kind: "invalid", reason: `${path} is not a directory` };
  }
  const trusted = facts.uid === asker.uid || facts.uid === 0;
  if (!trusted && !asker.allowForeignHome) {
    return {
      kind: "unsafe",
      reason: `${path} is owned by uid ${facts.uid}, not by uid ${asker.uid}`,
      hint: asker.uid === 0
        ? "run codexd as that user, or pass --allow-foreign-home"
        : `use a CODEX_HOME of your own`,
    };
  }
  const otherWritable = (facts.mode & 0o002) !== 0;
  const groupWritable = (facts.mode & 0o020) !== 0 && facts.gid !== asker.gid;
  if (otherWritable || groupWritable) {
    return {
      kind: "unsafe",
      reason: `${path} is writable by ${
        otherWritable ? "other users" : `group ${facts.gid}`
      } (mode ${(facts.mode & 0o7777).toString(8).padStart(4, "0")})`,
      hint: `chmod go-w ${shellQuote(path)}`,
    };
  }
  if (role === "state" && (facts.mode & 0o077) !== 0 && facts.uid === asker.uid) {
    return { kind: "tighten" };
  }
  return { kind: "ok" };
}

function dirFacts(path: string, follow: boolean): DirFacts | undefined {
  let info: Deno.FileInfo;
  let link = false;
  try {
    const l = Deno.lstatSync(path);
    link = l.isSymlink;
    info = follow && link ? Deno.statSync(path) : l;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) {
      return { isDirectory: false, isSymlink: false, uid: -1, gid: -1, mode: 0 };
    }
    throw new CodexdError(
      "HOME_INVALID",
      `Cannot inspect ${path}: ${error instanceof Error ? error.message : String(error)}`,
      "check CODEX_HOME (--codex-home DIR)",
    );
  }
  return {
    isDirectory: info.isDirectory,
    isSymlink: link,
    uid: info.uid ?? -1,
    gid: info.gid ?? -1,
    mode: info.mode ?? 0,
  };
}

/** Options for {@linkcode checkHome}. */
export interface HomeCheckOptions {
  /** Let root manage a home owned by another user. @default {false} */
  allowForeignHome?: boolean;
}

/**
 * Checks CODEX_HOME and its state directory (where they exist) and tightens
 * the state directory to 0700. Returns the home owner's uid (its processes
 * may be signalled too), or `undefined` when the home does not exist yet.
 *
 * @throws {CodexdError} `HOME_INVALID` (not a directory), `HOME_UNSAFE`.
 */
export function checkHome(paths: DaemonPaths, options: HomeCheckOptions = {}): number | undefined {
  const asker: Asker = {
    uid: Deno.uid() ?? -1,
    gid: Deno.gid() ?? -1,
    allowForeignHome: options.allowForeignHome ?? false,
  };
  const home = dirFacts(paths.codexHome, true);
  if (home === undefined) return undefined;
  for (
    const [path, facts, role] of [
      [paths.codexHome, home, "home"],
      [paths.stateDir, home.isDirectory ? dirFacts(paths.stateDir, false) : undefined, "state"],
    ] as const
  ) {
    if (facts === undefined) continue;
    const verdict = judgeDir(path, facts, asker, role);
    switch (verdict.kind) {
      case "ok":
        break;
      case "tighten":
        try {
          Deno.chmodSync(path, 0o700);
        } catch {
          // read-only file system: nothing to tighten, nothing to fear either
        }
        break;
      case "invalid":
        throw new CodexdError(
          "HOME_INVALID",
          `Cannot use CODEX_HOME ${paths.codexHome}: ${verdict.reason}`,
          "pass a directory: --codex-home DIR",
        );
      case "unsafe":
        throw new CodexdError(
          "HOME_UNSAFE",
          `Refusing CODEX_HOME ${paths.codexHome}: ${verdict.reason}; whoever can write it chooses what codexd runs`,
          verdict.hint,
        );
    }
  }
  return home.uid;
}
