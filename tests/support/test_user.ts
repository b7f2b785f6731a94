/**
 * A throwaway second local user for tests of root acting on a user's home
 * (`--allow-foreign-home`): created with `useradd` (a fresh uid, no home,
 * group nogroup), a private directory it owns, removed with every process of
 * its uid (found by uid in `/proc`, never by name) and the directory on
 * dispose. Tests declare `ignore: !CAN_ADD_USERS` where that is impossible.
 *
 * @module
 */

const decoder = new TextDecoder();

/** The group the users get (nogroup): no privileges of its own. */
export const NOGROUP = 65534;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether this host can create users: root on Linux with useradd, userdel and setpriv. */
export const CAN_ADD_USERS: boolean = Deno.build.os === "linux" && Deno.uid() === 0 &&
  ["/usr/sbin/useradd", "/usr/sbin/userdel", "/usr/bin/setpriv"].every(exists);

async function run(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  return { ok: out.success, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** A throwaway user. */
export interface TestUser extends AsyncDisposable {
  /** Its login name (`codexd-t-<rand>`). */
  name: string;
  /** Its uid. */
  uid: number;
  /** A 0755 directory it owns. */
  dir: string;
}

/** Creates a user with an unused uid and a directory it owns. */
export async function createTestUser(): Promise<TestUser> {
  const name = `codexd-t-${crypto.randomUUID().slice(0, 8)}`;
  let uid = 0;
  for (let i = 0; i < 50 && uid === 0; i++) {
    const candidate = 52_000 + Math.floor(Math.random() * 10_000);
    const taken = (await run("/usr/bin/getent", ["passwd", String(candidate)])).ok;
    if (!taken && !exists(`/tmp/codex-daemon-${candidate}`)) uid = candidate;
  }
  const made = await run("/usr/sbin/useradd", [
    "--uid",
    String(uid),
    "--no-create-home",
    "--no-user-group",
    "--gid",
    String(NOGROUP),
    "--shell",
    "/usr/sbin/nologin",
    name,
  ]);
  if (!made.ok) throw new Error(`useradd ${name} failed: ${made.text}`);
  const dir = await Deno.makeTempDir({ prefix: "codexd-t-user-" });
  await Deno.chown(dir, uid, NOGROUP);
  await Deno.chmod(dir, 0o755);
  return {
    name,
    uid,
    dir,
    [Symbol.asyncDispose]: async () => {
      for (const entry of Deno.readDirSync("/proc")) {
        const pid = Number(entry.name);
        if (!Number.isInteger(pid)) continue;
        try {
          const status = Deno.readTextFileSync(`/proc/${pid}/status`);
          if (new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status)) Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await run("/usr/sbin/userdel", [name]).catch(() => undefined);
      await Deno.remove(dir, { recursive: true }).catch(() => undefined);
      await Deno.remove(`/tmp/codex-daemon-${uid}`, { recursive: true }).catch(() => undefined);
    },
  };
}

/** Spawns `argv` as `uid` (setpriv, no supplementary groups), in its own process group. */
export function spawnAs(uid: number, argv: string[]): Deno.ChildProcess {
  return new Deno.Command("/usr/bin/setpriv", {
    args: [`--reuid=${uid}`, `--regid=${NOGROUP}`, "--clear-groups", ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
}

/** The identity codexd records for `pid` (`/proc` is world-readable: anyone can copy it). */
export function identityOf(pid: number): { bootId: string; startTicks: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const bootId = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  return { bootId, startTicks: Number(fields[19]) };
}

/** Chowns `path` and everything below it to `uid` (links themselves, not their targets). */
export async function chownTree(path: string, uid: number): Promise<void> {
  const out = await run("/bin/chown", ["-hR", `${uid}:${NOGROUP}`, path]);
  if (!out.ok) throw new Error(`chown ${path} failed: ${out.text}`);
}
