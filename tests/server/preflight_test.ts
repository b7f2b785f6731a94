/**
 * The checks before a command touches a home (`lib/server/preflight.ts`):
 * the Deno permissions asked up front (PERMISSION_DENIED with the flags to
 * use), and the home and state directories judged by owner and mode — a
 * state dir tightened to 0700 with every file 0600, a home writable by others
 * HOME_UNSAFE, a home that is a file HOME_INVALID. Tables of the pure
 * decisions and black-box CLI runs (issue #10); the cases that need root
 * are in `tests/root/`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  fakeHome,
  MOD_TS,
  modeOf,
  processesOfHome,
  REPO_ROOT,
  runBoundedCli,
} from "../support/helpers.ts";
import { type DirFacts, judgeDir, missingPermissions } from "../../lib/server/preflight.ts";

Deno.test("start without -A fails at once with PERMISSION_DENIED and the flags to use", async () => {
  await using h = await fakeHome();
  const run = await runBoundedCli(h.home, ["start"], {
    denoFlags: ["--allow-read", "--allow-write", "--allow-env", "--allow-run"],
  });
  assert(!run.hung, "start without -A must not wait forever");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(run.json.code, "PERMISSION_DENIED");
  assertMatch(String(run.json.message), /--allow-sys/);
  assertMatch(String(run.json.hint), /deno run -A/);
  assertEquals(processesOfHome(h.home), [], "nothing was spawned");
});

Deno.test("the library throws CodexdError PERMISSION_DENIED without -A", async () => {
  await using h = await fakeHome();
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { CodexdError, start } from ${JSON.stringify(MOD_TS)};
try { await start({ codexHome: ${JSON.stringify(h.home)} }); console.log("started"); }
catch (e) { console.log(e instanceof CodexdError ? e.code : "raw " + e); }`,
    );
    const child = await new Deno.Command(Deno.execPath(), {
      // --config: a script outside the checkout resolves the checkout's bare imports (@std/…) by it.
      args: [
        "run",
        "--config",
        `${REPO_ROOT}/deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assertEquals(new TextDecoder().decode(child.stdout).trim(), "PERMISSION_DENIED");
    assertEquals(processesOfHome(h.home), []);
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("missingPermissions() asks for all eight on Linux and four elsewhere", () => {
  const granted = new Set<string>(["read", "write", "env", "run"]);
  const query = (name: string): Deno.PermissionState => granted.has(name) ? "granted" : "prompt";
  assertEquals(missingPermissions("linux", query), ["sys", "net", "ffi", "import"]);
  assertEquals(missingPermissions("darwin", query), []);
  assertEquals(missingPermissions("linux", () => "granted"), []);
});

Deno.test("start under umask 000 tightens the state dir to 0700 and creates every file 0600", async () => {
  await using h = await fakeHome();
  const state = `${h.home}/app-server-daemon`;
  await Deno.mkdir(state);
  await Deno.chmod(state, 0o755);
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", 'umask 000; exec "$0" run -A "$1" start', Deno.execPath(), MOD_TS],
    env: { CODEX_HOME: h.home },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const started = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(started.status, "started", new TextDecoder().decode(out.stderr));
  assertEquals(modeOf(state), 0o700);
  const files = [...Deno.readDirSync(state)].filter((e) => e.isFile).map((e) => e.name);
  for (const name of ["daemon.lock", "app-server.pid", "app-server.stderr.log"]) {
    assert(files.includes(name), `${name} exists: ${files}`);
  }
  for (const name of files) {
    assertEquals(modeOf(`${state}/${name}`).toString(8), "600", name);
  }
  assertEquals((await runBoundedCli(h.home, ["stop"])).json.status, "stopped");
});

Deno.test("a CODEX_HOME or state dir writable by others is refused with HOME_UNSAFE", async () => {
  await using h = await fakeHome();
  await Deno.chmod(h.home, 0o777);
  for (const command of ["start", "status", "stop"]) {
    const run = await runBoundedCli(h.home, [command]);
    assertEquals(run.json.code, "HOME_UNSAFE", `${command}: ${run.stdout}`);
    assertMatch(String(run.json.message), /writable by other users/);
    assertMatch(String(run.json.hint), /chmod go-w/);
  }
  await Deno.chmod(h.home, 0o700);
  await Deno.mkdir(`${h.home}/app-server-daemon`);
  await Deno.chmod(`${h.home}/app-server-daemon`, 0o777);
  const run = await runBoundedCli(h.home, ["start"]);
  assertEquals(run.json.code, "HOME_UNSAFE");
  assertEquals(processesOfHome(h.home), [], "nothing was spawned");
});

Deno.test("a CODEX_HOME that is a file is HOME_INVALID, not INTERNAL", async () => {
  const file = await Deno.makeTempFile();
  try {
    for (const command of ["start", "status", "version", "stop"]) {
      const run = await runBoundedCli(file, [command]);
      assertEquals(run.json.code, "HOME_INVALID", `${command}: ${run.stdout}`);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("judgeDir() trusts own and root's private dirs, refuses others' and writable ones", () => {
  const me = { uid: 1000, gid: 1000, allowForeignHome: false };
  const dir = (uid: number, mode: number, extra: Partial<DirFacts> = {}): DirFacts => ({
    isDirectory: true,
    isSymlink: false,
    uid,
    gid: uid,
    mode,
    ...extra,
  });
  const table: [DirFacts, "home" | "state", typeof me, string][] = [
    [dir(1000, 0o700), "home", me, "ok"],
    [dir(1000, 0o755), "home", me, "ok"],
    [dir(0, 0o755), "home", me, "ok"],
    [dir(1000, 0o755), "state", me, "tighten"],
    [dir(1000, 0o777), "home", me, "unsafe"],
    [dir(1000, 0o775, { gid: 50 }), "home", me, "unsafe"],
    [dir(1000, 0o775), "home", me, "ok"], // group-writable by the user's own group
    [dir(2000, 0o700), "home", me, "unsafe"],
    [dir(2000, 0o700), "home", { ...me, uid: 0, gid: 0, allowForeignHome: true }, "ok"],
    [dir(2000, 0o777), "home", { ...me, uid: 0, gid: 0, allowForeignHome: true }, "unsafe"],
    [dir(1000, 0o700, { isSymlink: true }), "state", me, "unsafe"],
    [dir(1000, 0o600, { isDirectory: false }), "home", me, "invalid"],
  ];
  for (const [facts, role, asker, expected] of table) {
    assertEquals(judgeDir("/d", facts, asker, role).kind, expected, JSON.stringify([facts, role]));
  }
});
