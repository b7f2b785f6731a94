/**
 * A throwaway second local user for the tests that need root (`tests/root/`):
 * created with `useradd` (a fresh uid with no leftovers in /tmp, no home,
 * group nogroup), a private directory it owns, removed with every process of
 * its uid (found by uid in `/proc`, never by name) and the directory on
 * dispose. {@linkcode createCodexdUser} adds a deno it can execute and a way
 * to run codexd from this checkout as that user. Tests declare
 * `ignore: !CAN_ADD_USERS` where that is impossible.
 *
 * @module
 */
import { exec } from "./exec.ts";
import { MOD_TS } from "./helpers.ts";
import { exists, jsrEnv } from "./host.ts";

/** Bound of one user-management command (useradd, userdel, chown). */
const USER_COMMAND_MS = 30_000;
/** Bound of one codexd run as the user (its first run compiles into an empty DENO_DIR). */
const USER_CLI_MS = 60_000;

/** The group the users get (nogroup): no privileges of its own. */
export const NOGROUP = 65534;

/** Whether this host can create users: root on Linux with useradd, userdel and setpriv. */
export const CAN_ADD_USERS: boolean = Deno.build.os === "linux" && Deno.uid() === 0 &&
  ["/usr/sbin/useradd", "/usr/sbin/userdel", "/usr/bin/setpriv"].every(exists);

async function run(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await exec(command, args, { timeoutMs: USER_COMMAND_MS });
  return { ok: out.success, text: out.stdout + out.stderr };
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

/** A throwaway user that can run codexd from this checkout. */
export interface CodexdUser extends TestUser {
  /** A deno binary the user can execute (a hard link, or a copy, in its directory). */
  deno: string;
  /** Runs codexd as the user against `home` (setpriv, a cleared environment); its last stdout line parsed. */
  cli(home: string, args: string[]): Promise<{ code: number; json: Record<string, unknown> }>;
}

/** {@linkcode createTestUser} with a deno of its own and a private HOME (and DENO_DIR) in its directory. */
export async function createCodexdUser(): Promise<CodexdUser> {
  const user = await createTestUser();
  try {
    const deno = `${user.dir}/deno`;
    try {
      await Deno.link(Deno.execPath(), deno);
    } catch {
      await Deno.copyFile(Deno.execPath(), deno);
    }
    const userHome = `${user.dir}/home`;
    await Deno.mkdir(userHome, { mode: 0o700 });
    await Deno.chown(userHome, user.uid, NOGROUP);
    const cli = async (home: string, args: string[]) => {
      const out = await exec("/usr/bin/setpriv", [
        `--reuid=${user.uid}`,
        `--regid=${NOGROUP}`,
        "--clear-groups",
        deno,
        "run",
        "-A",
        "--no-lock",
        MOD_TS,
        ...args,
      ], {
        env: {
          CODEX_HOME: home,
          HOME: userHome,
          DENO_DIR: `${userHome}/deno`,
          NO_COLOR: "1",
          // jsr: imports resolve from the on-disk registry where JSR is unreachable.
          ...jsrEnv(),
        },
        clearEnv: true,
        timeoutMs: USER_CLI_MS,
      });
      const line = out.stdout.trim().split("\n").at(-1) ?? "";
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(line);
      } catch {
        throw new Error(`not JSON: ${out.stdout}\n${out.stderr}`);
      }
      return { code: out.code, json };
    };
    return { ...user, deno, cli };
  } catch (error) {
    await user[Symbol.asyncDispose]();
    throw error;
  }
}
