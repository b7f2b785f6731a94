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
  try {
    const target = Deno.readLinkSync(socketPath);
    return target.startsWith("/")
      ? target
      : socketPath.slice(0, socketPath.lastIndexOf("/") + 1) + target;
  } catch {
    return socketPath;
  }
}
