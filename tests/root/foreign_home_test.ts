/**
 * Root acting on a user's home (`--allow-foreign-home`), as admins do
 * (issue 18, points 6–8): a forged pid record must not make root signal its
 * own processes, a planted updater-log symlink and a `reason` with newlines
 * must not make root write a chosen line anywhere, and root's updater loop
 * must carry the flag. Each test makes a throwaway user (useradd) and removes
 * it, its processes and its files in `finally`; ignored where root, useradd
 * or setpriv are missing.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  eventually,
  fakeHome,
  isAlive,
  killChild,
  killHomeProcesses,
  runCli,
} from "../support/helpers.ts";
import { exists } from "../support/host.ts";
import {
  CAN_ADD_USERS,
  chownTree,
  createTestUser,
  identityOf,
  spawnAs,
} from "../support/test_user.ts";

const IGNORE = !CAN_ADD_USERS; // needs root on Linux with useradd, userdel and setpriv

/** A user-owned CODEX_HOME (0700) with a pid record naming `pid`, as the user could write it. */
async function homeWithRecord(dir: string, uid: number, pid: number): Promise<string> {
  const home = `${dir}/codex-home`;
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/app-server.pid`,
    JSON.stringify({ pid, processStartTime: "", processIdentity: identityOf(pid) }),
  );
  await chownTree(home, uid);
  return home;
}

// --- 6. a forged record never makes root signal its own process -------------------

Deno.test({
  name:
    "root's stop --allow-foreign-home refuses a user's record naming a root process (NOT_OWNER)",
  ignore: IGNORE,
  async fn() {
    await using user = await createTestUser();
    // A root process in its own process group, as the audit's victim.
    const rootSleep = new Deno.Command("/bin/sleep", {
      args: ["300"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    try {
      const home = await homeWithRecord(user.dir, user.uid, rootSleep.pid);
      const stop = await runCli(home, [
        "stop",
        "--allow-foreign-home",
        "--grace-seconds",
        "1",
      ]);
      assertEquals(stop.json.code, "NOT_OWNER", stop.stdout + stop.stderr);
      assertMatch(String(stop.json.message), new RegExp(`runs as uid 0, not as ${user.uid}`));
      assert(isAlive(rootSleep.pid), "root's process was not signalled");
      // The record is left for the user to see (codexd never guesses it away).
      assert(exists(`${home}/app-server-daemon/app-server.pid`));
    } finally {
      await killChild(rootSleep);
    }
  },
});

Deno.test({
  name: "root's stop --allow-foreign-home still stops the home owner's recorded process",
  ignore: IGNORE,
  async fn() {
    await using user = await createTestUser();
    const usersSleep = spawnAs(user.uid, ["/bin/sleep", "300"]);
    try {
      assert(
        await eventually(() => {
          try {
            const status = Deno.readTextFileSync(`/proc/${usersSleep.pid}/status`);
            return new RegExp(`^Uid:\\s+${user.uid}\\s`, "m").test(status);
          } catch {
            return false;
          }
        }, 10_000),
        "setpriv switched to the user",
      );
      const home = await homeWithRecord(user.dir, user.uid, usersSleep.pid);
      const stop = await runCli(home, ["stop", "--allow-foreign-home", "--grace-seconds", "5"]);
      assertEquals(stop.json.status, "stopped", stop.stdout + stop.stderr);
      assert(await eventually(() => !isAlive(usersSleep.pid), 10_000));
    } finally {
      await killChild(usersSleep);
    }
  },
});

Deno.test({
  name: "root still stops the app-server it started itself on a user's home",
  ignore: IGNORE,
  async fn() {
    await using user = await createTestUser();
    await using h = await fakeHome({}, { parent: user.dir });
    try {
      await chownTree(h.home, user.uid);
      const start = await runCli(h.home, ["start", "--allow-foreign-home"]);
      assertEquals(start.json.status, "started", start.stdout + start.stderr);
      const stop = await runCli(h.home, ["stop", "--allow-foreign-home"]);
      assertEquals(stop.json.status, "stopped", stop.stdout + stop.stderr);
      assert(await eventually(() => !isAlive(Number(start.json.pid)), 10_000));
    } finally {
      await killHomeProcesses(h.home);
    }
  },
});

// --- 7. root's log writes: never through a planted link, never a chosen line ---------

Deno.test({
  name: "root's apply-pending on a user's home never logs through a planted symlink or a newline",
  ignore: IGNORE,
  async fn() {
    await using user = await createTestUser();
    await using h = await fakeHome({}, { parent: user.dir });
    // Where the user points the log: a root-only directory, as /etc/cron.d is.
    const rootOnly = await Deno.makeTempDir({ prefix: "codexd-root-only-" });
    try {
      await chownTree(h.home, user.uid);
      const start = await runCli(h.home, ["start", "--allow-foreign-home"]);
      assertEquals(start.json.status, "started", start.stdout + start.stderr);
      const state = `${h.home}/app-server-daemon`;
      const planPending = async (): Promise<void> => {
        await Deno.writeTextFile(
          `${state}/pending-restart.json`,
          JSON.stringify({
            kind: "restart",
            toVersion: null,
            since: new Date().toISOString(),
            deadline: null,
            reason: "new flags\n* * * * * root touch /tmp/codexd-pwned\n",
          }),
        );
        await chownTree(state, user.uid);
      };
      // The user plants the log as a symlink (the updater log is not there yet or is replaced).
      await Deno.remove(`${state}/app-server-updater.log`).catch(() => undefined);
      await Deno.symlink(`${rootOnly}/cron-line`, `${state}/app-server-updater.log`);
      await planPending();
      const first = await runCli(h.home, ["apply-pending", "--allow-foreign-home"]);
      assertEquals(first.code, 0, first.stdout + first.stderr);
      assertEquals([...Deno.readDirSync(rootOnly)], [], "nothing written through the link");

      // With a real log file, the reason stays on its one line.
      await Deno.remove(`${state}/app-server-updater.log`);
      await planPending();
      const second = await runCli(h.home, ["apply-pending", "--allow-foreign-home"]);
      assertEquals(second.code, 0, second.stdout + second.stderr);
      const log = await Deno.readTextFile(`${state}/app-server-updater.log`).catch(() => "");
      for (const line of log.split("\n").filter(Boolean)) {
        assertMatch(
          line,
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /,
          `a line codexd did not start: ${line}`,
        );
      }
    } finally {
      await killHomeProcesses(h.home);
      await Deno.remove(rootOnly, { recursive: true });
    }
  },
});

// --- 8. root's updater loop carries --allow-foreign-home --------------------------------

Deno.test({
  name: "root's bootstrap --allow-foreign-home starts an updater that brings a killed server back",
  ignore: IGNORE,
  async fn() {
    await using user = await createTestUser();
    await using h = await fakeHome({}, { parent: user.dir });
    try {
      await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
      await Deno.writeTextFile(
        `${h.home}/app-server-daemon/settings.json`,
        JSON.stringify({
          updater: {
            firstPassDelaySeconds: 86400,
            supervision: { checkSeconds: 1, backoffBaseSeconds: 1, backoffMaxSeconds: 2 },
          },
        }),
      );
      await chownTree(h.home, user.uid);
      const boot = await runCli(h.home, ["bootstrap", "--no-auto-update", "--allow-foreign-home"]);
      assertEquals(boot.json.status, "bootstrapped", boot.stdout + boot.stderr);
      const first = Number(boot.json.pid);
      const environ = Deno.readTextFileSync(`/proc/${boot.json.updaterPid}/environ`);
      assert(
        environ.split("\0").includes("CODEXD_LOOP_FOREIGN_FLAG=--allow-foreign-home"),
        "the loop was told to carry the flag",
      );

      Deno.kill(first, "SIGKILL");
      let last: Record<string, unknown> = {};
      const back = await eventually(
        async () => {
          last = (await runCli(h.home, ["status", "--allow-foreign-home"])).json;
          return last.status === "running" && last.pid !== first;
        },
        60_000,
        500,
      );
      const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
      assert(back, `supervision restarted the server: ${JSON.stringify(last)}\n${log}`);
      assert(!/HOME_UNSAFE/.test(log), log);
      assertEquals((last.updater as Record<string, unknown>).running, true);
    } finally {
      await runCli(h.home, ["stop", "--all", "--allow-foreign-home"]);
      await killHomeProcesses(h.home);
    }
  },
});
