/**
 * Hardening (issue #10) cases that need root powers: files owned by another
 * uid (chown), a throwaway second user (useradd; codexd run as it with
 * `setpriv`), and a tiny tmpfs CODEX_HOME (mount). Each test is declared
 * ignored (with the reason) where the power is missing, fails where the power
 * is there but does not work, and removes every user, process and mount it
 * made in `finally`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  disposableHome,
  eventually,
  FAKE_APP_SERVER,
  fakeHome,
  installFakeRelease,
  isAlive,
  killChild,
  processesOfHome,
  runCli,
} from "../support/helpers.ts";
import { executable, needs } from "../support/host.ts";
import { exec } from "../support/exec.ts";
import { chownTree, type CodexdUser, createCodexdUser, identityOf } from "../support/test_user.ts";

const isRoot = Deno.uid() === 0;
const isLinux = Deno.build.os === "linux";
const decoder = new TextDecoder();

/** Why tests that chown cannot run here. */
const noChown = isRoot ? undefined : "needs root (chown)";
/** Why tests that run a process as another uid cannot run here. */
const noSetpriv = isRoot && isLinux && executable("/usr/bin/setpriv")
  ? undefined
  : "needs root on Linux with /usr/bin/setpriv";
/** Why tests with a throwaway user cannot run here. */
const noUsers = noSetpriv ??
  (executable("/usr/sbin/useradd") ? undefined : "needs /usr/sbin/useradd");
/** Why tests on a tiny tmpfs cannot run here: probed once (a container may forbid mount). */
const noMount = isRoot && isLinux ? await probeMount() : "needs root on Linux (mount)";

async function probeMount(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "codexd-hard-probe-" });
  try {
    const out = await new Deno.Command("/bin/mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
      stdout: "null",
      stderr: "piped",
    }).output().catch((error) => ({
      success: false,
      stderr: new TextEncoder().encode(String(error)),
    }));
    if (!out.success) return `mount -t tmpfs fails here: ${decoder.decode(out.stderr).trim()}`;
    await new Deno.Command("/bin/umount", { args: [dir] }).output();
    return undefined;
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

/** An uid no account uses, for files "owned by another user". */
const STRANGER_UID = 48_213;

/** Spawns `sleep 300` as `uid` (its own process); returns its pid. */
function sleepAs(uid: number): Deno.ChildProcess {
  return new Deno.Command("/usr/bin/setpriv", {
    args: [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--clear-groups",
      "/bin/sleep",
      "300",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function writeRecord(home: string, pid: number): Promise<void> {
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/app-server.pid`,
    JSON.stringify({ pid, processStartTime: "", processIdentity: identityOf(pid) }),
  );
}

// --- a second local user: tests/support/test_user.ts ------------------------------

/** A CODEX_HOME owned by `uid` with a fake codex the user can run through `deno`. */
async function homeFor(user: CodexdUser): Promise<string> {
  const home = `${user.dir}/codex-home-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(home, { mode: 0o700 });
  const release = `${home}/packages/standalone/releases/9.9.9-x86_64-unknown-linux-musl`;
  await Deno.mkdir(`${release}/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${release}/bin/codex`,
    `#!/bin/sh\nexec "${user.deno}" run -A --no-lock --no-config "${FAKE_APP_SERVER}" "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.symlink("bin/codex", `${release}/codex`);
  await Deno.symlink(
    `releases/9.9.9-x86_64-unknown-linux-musl`,
    `${home}/packages/standalone/current`,
  );
  await chownTree(home, user.uid);
  return home;
}

// --- 4. impostor control socket -----------------------------------------------------

Deno.test({
  name: "version refuses a control socket whose directory another user owns",
  ...needs(noChown),
}, async () => {
  await using server = await fakeHome({ version: "6.6.6" });
  await using h = await fakeHome();
  const started = await runCli(server.home, ["start"]);
  assertEquals(started.json.status, "started", started.stderr);
  // Our home's socket is a symlink (as codex makes it) into another directory.
  await Deno.mkdir(`${h.home}/app-server-control`, { mode: 0o700 });
  const socket = `${server.home}/app-server-control/app-server-control.sock`;
  await Deno.symlink(socket, `${h.home}/app-server-control/app-server-control.sock`);
  const trusted = await runCli(h.home, ["version"]);
  assertEquals(
    trusted.json.status,
    "running",
    "a private directory of the link's owner is trusted",
  );

  await Deno.chown(`${server.home}/app-server-control`, STRANGER_UID, STRANGER_UID);
  const refused = await runCli(h.home, ["version"]);
  assertEquals(refused.code, 1);
  assertEquals(refused.json.code, "NOT_RUNNING");
  assertMatch(String(refused.json.message), /owned by uid 48213/);
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.status, "stopped");
  assertMatch(String(status.json.socketUnsafe), /owned by uid 48213/);

  await Deno.chown(`${server.home}/app-server-control`, 0, 0);
  await Deno.chmod(`${server.home}/app-server-control`, 0o755);
  const open = await runCli(h.home, ["version"]);
  assertEquals(open.json.code, "NOT_RUNNING");
  assertMatch(String(open.json.message), /open to other users/);
});

Deno.test({
  name: "start refuses a planted /tmp/codex-daemon-<uid> with SOCKET_DIR_UNSAFE",
  ...needs(noUsers),
}, async () => {
  await using user = await createCodexdUser();
  const planted = `/tmp/codex-daemon-${user.uid}`;
  await Deno.mkdir(planted, { mode: 0o755 });
  try {
    await Deno.chmod(planted, 0o777);
    const home = await homeFor(user);
    const run = await user.cli(home, ["start"]);
    assertEquals(run.json.code, "SOCKET_DIR_UNSAFE", JSON.stringify(run.json));
    assertMatch(
      String(run.json.message),
      new RegExp(`/tmp/codex-daemon-${user.uid} is owned by uid 0`),
    );
    assertEquals(processesOfHome(home), []);
  } finally {
    await Deno.remove(planted, { recursive: true });
  }
});

// --- 5. ownership -------------------------------------------------------------------

Deno.test({
  name: "root refuses another user's CODEX_HOME unless --allow-foreign-home",
  ...needs(noChown),
}, async () => {
  await using h = await fakeHome();
  await exec("/bin/chown", ["-hR", `${STRANGER_UID}:${STRANGER_UID}`, h.home]);
  const refused = await runCli(h.home, ["start"]);
  assertEquals(refused.json.code, "HOME_UNSAFE", refused.stdout);
  assertMatch(String(refused.json.message), /owned by uid 48213/);
  assertMatch(String(refused.json.hint), /--allow-foreign-home/);
  assertEquals(processesOfHome(h.home), []);

  const allowed = await runCli(h.home, ["start", "--allow-foreign-home"]);
  assertEquals(allowed.json.status, "started", allowed.stdout + allowed.stderr);
  const stopped = await runCli(h.home, ["stop", "--allow-foreign-home"]);
  assertEquals(stopped.json.status, "stopped");
});

// --- 6 and 14. never signal another user's process -----------------------------------

Deno.test({
  name: "root's stop never signals another user's process named by a forged record",
  ...needs(noSetpriv),
}, async () => {
  await using h = await fakeHome();
  const victim = sleepAs(STRANGER_UID);
  try {
    assert(
      await eventually(() => {
        try {
          return /^Uid:\s+48213\s/m.test(Deno.readTextFileSync(`/proc/${victim.pid}/status`));
        } catch {
          return false;
        }
      }, 5_000),
    );
    await writeRecord(h.home, victim.pid);
    const stop = await runCli(h.home, ["stop", "--grace-seconds", "1"]);
    assertEquals(stop.json.code, "NOT_OWNER", stop.stdout);
    assertMatch(String(stop.json.message), /runs as uid 48213/);
    assert(isAlive(victim.pid), "the other user's process was not signalled");
  } finally {
    await killChild(victim);
  }
});

Deno.test({
  name: "a user's stop on a record naming root's process says NOT_OWNER, not STOP_TIMEOUT",
  ...needs(noUsers),
}, async () => {
  await using user = await createCodexdUser();
  const home = await homeFor(user);
  const rootSleep = new Deno.Command("/bin/sleep", {
    args: ["300"],
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  try {
    await writeRecord(home, rootSleep.pid);
    await chownTree(`${home}/app-server-daemon`, user.uid);
    const stop = await user.cli(home, ["stop", "--grace-seconds", "1"]);
    assertEquals(stop.json.code, "NOT_OWNER", JSON.stringify(stop.json));
    assert(isAlive(rootSleep.pid));
  } finally {
    await killChild(rootSleep);
  }
});

Deno.test({
  name: "a user on a root-owned home gets STATE_UNWRITABLE, not INTERNAL; status still answers",
  ...needs(noUsers),
}, async () => {
  await using user = await createCodexdUser();
  // Root's home is trusted (root can do anything anyway) but not writable by the user.
  const home = `${user.dir}/root-home`;
  await Deno.mkdir(home, { mode: 0o755 });
  const start = await user.cli(home, ["start"]);
  assertEquals(start.json.code, "STATE_UNWRITABLE", JSON.stringify(start.json));
  assertMatch(String(start.json.message), /permission denied/);
  await Deno.mkdir(`${home}/app-server-daemon`, { mode: 0o755 });
  await Deno.writeTextFile(`${home}/app-server-daemon/settings.json`, "{}", { mode: 0o600 });
  // An unreadable settings.json: status reads it leniently (defaults) and answers.
  const status = await user.cli(home, ["status"]);
  assertEquals(status.json.status, "stopped", JSON.stringify(status.json));
  const version = await user.cli(home, ["version"]);
  assertEquals(version.json.code, "NOT_RUNNING", JSON.stringify(version.json));
});

// --- 11 and 12. a full or read-only file system ---------------------------------------

/** Mounts a tmpfs of `size` at a new directory (the tests using it are ignored where {@linkcode noMount}). */
async function tmpfs(size: string): Promise<AsyncDisposable & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "codexd-hard-tmpfs-" });
  const mounted = await exec("/bin/mount", [
    "-t",
    "tmpfs",
    "-o",
    `size=${size},mode=0700`,
    "tmpfs",
    dir,
  ]);
  if (!mounted.success) {
    await Deno.remove(dir);
    throw new Error(`mount -t tmpfs failed: ${mounted.stderr.trim()}`);
  }
  return {
    dir,
    [Symbol.asyncDispose]: async () => {
      await exec("/bin/umount", ["-l", dir]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function fill(dir: string): Promise<void> {
  const file = await Deno.open(`${dir}/filler`, { write: true, create: true });
  try {
    const chunk = new Uint8Array(4096);
    while (true) await file.write(chunk);
  } catch {
    // ENOSPC: full
  } finally {
    file.close();
  }
}

Deno.test({
  name: "stop on a full disk still stops the app-server and warns that it could not write down",
  ...needs(noMount),
}, async () => {
  await using mount = await tmpfs("400k");
  const home = `${mount.dir}/home`;
  await Deno.mkdir(home, { mode: 0o700 });
  await using _h = disposableHome(home);
  // The fake's launcher lives on the big disk; only CODEX_HOME's files are on the tmpfs.
  await using bin = await fakeHome();
  const launcher = Deno.realPathSync(`${bin.home}/packages/standalone/current/codex`);
  await Deno.mkdir(`${home}/app-server-daemon`, { mode: 0o700 });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/settings.json`,
    JSON.stringify({ codexBin: launcher, updater: { enabled: true, autoUpdateEnabled: false } }),
  );
  const started = await runCli(home, ["start"]);
  assertEquals(started.json.status, "started", started.stdout + started.stderr);
  const pid = started.json.pid as number;
  await fill(mount.dir);
  const stop = await runCli(home, ["stop", "--grace-seconds", "5"]);
  assertEquals(stop.json.status, "stopped", stop.stdout + stop.stderr);
  assert(!isAlive(pid), "the app-server was stopped");
  const warnings = (stop.json.warnings ?? []) as string[];
  assert(warnings.some((w) => /down/.test(w)), `a warning names the marker: ${warnings}`);
  let down = "";
  try {
    down = Deno.readTextFileSync(`${home}/app-server-daemon/down`);
  } catch {
    // absent is fine
  }
  assert(down === "" || down.endsWith("\n"), "no half-written down marker");
  assert(!Deno.readDirSync(`${home}/app-server-daemon`).some((e) => e.name.includes(".tmp-")));
});

Deno.test({
  name: "a read-only CODEX_HOME gives STATE_UNWRITABLE with a hint, and status still answers",
  ...needs(noMount),
}, async () => {
  await using mount = await tmpfs("200k");
  const home = `${mount.dir}/home`;
  await Deno.mkdir(home, { mode: 0o700 });
  await installFakeRelease(home);
  const remount = await exec("/bin/mount", ["-o", "remount,ro", mount.dir]);
  assert(remount.success, `remount ro failed: ${remount.stderr.trim()}`);
  const start = await runCli(home, ["start"]);
  assertEquals(start.json.code, "STATE_UNWRITABLE", start.stdout);
  assertMatch(String(start.json.hint), /read-only/);
  const status = await runCli(home, ["status"]);
  assertEquals(status.code, 3, status.stdout);
  assertEquals(status.json.status, "stopped");
  // The library throws the same coded error, never a raw Deno one.
  const lib = await import("../../mod.ts");
  for (
    const call of [() => lib.start({ codexHome: home }), () => lib.bootstrap({ codexHome: home })]
  ) {
    try {
      await call();
      assert(false, "expected a failure");
    } catch (error) {
      assert(error instanceof lib.CodexdError, `raw error escaped: ${error}`);
      assertEquals(error.code, "STATE_UNWRITABLE");
    }
  }
});
