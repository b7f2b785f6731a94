/**
 * Tiny path helpers for tests (no `jsr:@std/path` here: JSR is unreachable).
 *
 * @module
 */

/** Converts a `file:` URL to a path. */
export function fromFileUrl(url: string): string {
  return decodeURIComponent(new URL(url).pathname);
}

/** The directory part of a path. */
export function dirname(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}
