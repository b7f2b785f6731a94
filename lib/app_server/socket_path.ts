/**
 * The path to connect to for the control socket. Newer codex makes
 * `app-server-control/app-server-control.sock` a symlink into
 * `/tmp/codex-daemon-<uid>/`; when the path under a long CODEX_HOME exceeds
 * the Unix socket address limit, connect through the symlink's target.
 *
 * @module
 */

/** The longest path a Unix socket address can hold (sun_path minus NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Returns a path short enough to connect to. */
export function connectablePath(socketPath: string): string {
  if (new TextEncoder().encode(socketPath).length <= MAX_SOCKET_PATH_BYTES) {
    return socketPath;
  }
  return linkTarget(socketPath) ?? socketPath;
}

/** The control socket's symlink points somewhere another user controls. */
export class UnsafeSocketError extends Error {
  /** Why the target is not trusted. */
  readonly reason: string;

  /** Wraps the reason. */
  constructor(reason: string) {
    super(`not connecting to the control socket: ${reason}`);
    this.name = "UnsafeSocketError";
    this.reason = reason;
  }
}

/** Where the socket symlink points, as an absolute path; `undefined` when it is no symlink. */
export function linkTarget(socketPath: string): string | undefined {
  try {
    const target = Deno.readLinkSync(socketPath);
    return target.startsWith("/")
      ? target
      : socketPath.slice(0, socketPath.lastIndexOf("/") + 1) + target;
  } catch {
    return undefined;
  }
}

function mode(info: Deno.FileInfo): string {
  return ((info.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Why the control socket must not be trusted, or `undefined` when it may be
 * connected to. codex makes the socket a symlink into
 * `/tmp/codex-daemon-<uid>/`; after an unclean exit and a tmp clean-up
 * another user can create that directory and a socket in it, and `version`
 * would report the impostor as running. So, through a symlink, the target's
 * directory must be a real directory owned by the symlink's owner (who ran
 * the app-server) with no group or other bits, and the target a socket of
 * that owner. A missing target is not a problem (nothing listens).
 */
export function socketProblem(socketPath: string): string | undefined {
  let link: Deno.FileInfo;
  try {
    link = Deno.lstatSync(socketPath);
  } catch {
    return undefined;
  }
  if (!link.isSymlink) return undefined;
  const target = linkTarget(socketPath);
  if (target === undefined) return undefined;
  const owner = link.uid;
  const dir = target.slice(0, Math.max(1, target.lastIndexOf("/")));
  let dirInfo: Deno.FileInfo;
  try {
    dirInfo = Deno.lstatSync(dir);
  } catch {
    return undefined;
  }
  if (!dirInfo.isDirectory) return `socket directory ${dir} is not a directory`;
  if (dirInfo.uid !== owner) {
    return `socket directory ${dir} is owned by uid ${dirInfo.uid}, not uid ${owner}`;
  }
  if (((dirInfo.mode ?? 0) & 0o077) !== 0) {
    return `socket directory ${dir} is open to other users (mode ${mode(dirInfo)})`;
  }
  let targetInfo: Deno.FileInfo;
  try {
    targetInfo = Deno.lstatSync(target);
  } catch {
    return undefined;
  }
  if (!targetInfo.isSocket) return `${target} is not a socket`;
  if (targetInfo.uid !== owner) {
    return `socket ${target} is owned by uid ${targetInfo.uid}, not uid ${owner}`;
  }
  return undefined;
}

/** Where codex puts its control sockets for `uid` (fixed: codex ignores `$TMPDIR`, measured on 0.166). */
export function codexSocketDir(uid: number): string {
  return `/tmp/codex-daemon-${uid}`;
}

/**
 * Why codex's socket directory would block or endanger a new app-server, or
 * `undefined` when it is missing (codex creates it) or private to `uid`.
 */
export function socketDirProblem(
  uid: number,
  dir: string = codexSocketDir(uid),
): string | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(dir);
  } catch {
    return undefined;
  }
  if (info.isSymlink) return `${dir} is a symlink`;
  if (!info.isDirectory) return `${dir} is not a directory`;
  if (info.uid !== uid) return `${dir} is owned by uid ${info.uid}, not uid ${uid}`;
  if (((info.mode ?? 0) & 0o077) !== 0) {
    return `${dir} is open to other users (mode ${mode(info)})`;
  }
  return undefined;
}
