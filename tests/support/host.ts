/**
 * Tests that cannot run on a host (not root, no systemd, no sshd, no
 * ansible-core) are declared ignored, so the runner counts them as ignored
 * rather than passed: `Deno.test(name, needs(reason), fn)`, where `reason`
 * says what is missing here (`undefined` where the test can run).
 *
 * @module
 */

const reported = new Set<string>();

/** Test options ignoring the test when `missing` names what this host lacks; says why once. */
export function needs(missing: string | undefined): { ignore: boolean } {
  if (missing !== undefined && !reported.has(missing)) {
    reported.add(missing);
    console.log(`ignored on this host: ${missing}`);
  }
  return { ignore: missing !== undefined };
}

/** Whether something is at `path` (a link itself counts, dangling or not). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` exists and is executable by someone. */
export function executable(path: string): boolean {
  try {
    return ((Deno.statSync(path).mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** `JSR_URL` when set (the on-disk registry's server), for a child started with a cleared environment. */
export function jsrEnv(): Record<string, string> {
  const url = Deno.env.get("JSR_URL");
  return url ? { JSR_URL: url } : {};
}
