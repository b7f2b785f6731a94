/**
 * codexd beside the reference (`codex app-server daemon`, built into every
 * codex binary) on one CODEX_HOME, with the real binaries from npm: 0.169.0
 * and the npm latest 0.171.0. Each tool starts, restarts, stops and asks the
 * version of the other's server, in both layouts.
 *
 * Facts measured by running the reference (0.169.0 and 0.171.0 alike), which
 * these tests and `lib/state/home_layout.ts` / `lib/state/settings_layout.ts` rest on:
 * - Layout choice, from the files in `app-server-daemon/`: any `daemon.*`
 *   (`daemon.pid`, `daemon.stderr.log`, `daemon-updater.pid`) → its package
 *   layout: binary `packages/app-server-daemon/current/bin/codex`, record
 *   `daemon.pid`, log `daemon.stderr.log`, updater `daemon-updater.pid`
 *   (`<package bin> app-server daemon pid-update-loop`, its own process group,
 *   started by every `start`, left running by `stop`). Only `app-server.*`
 *   files (`app-server.pid`, `app-server.stderr.log`, `app-server-updater.pid`)
 *   → the legacy standalone layout: binary `packages/standalone/current/bin/codex`,
 *   record `app-server.pid`, log `app-server.stderr.log`, no updater on `start`.
 *   No state → `start` installs its package from the running CLI ("Installing
 *   daemon from CLI version X") and uses the package layout — also on a home
 *   with an install.sh binary.
 * - `daemon.stderr.log` on a home without the package: every reference
 *   `start`/`restart` fails "daemon executable not found at …/bin/codex". The
 *   app-server launched with `--managed-daemon` opens that log itself (fd 34)
 *   when it sees the package layout's files, so a codexd that wrote
 *   `daemon.pid` on an install.sh home poisoned it for the reference.
 * - In the package layout the reference ignores `app-server.pid` ("app server
 *   is running but is not managed by codex app-server daemon", exit 1).
 * - Records: `{"pid","processStartTime":"Sun Dec  6 17:54:13 2026",
 *   "processIdentity":{"bootId","startTicks"},"executableIdentity":{"digest":[32
 *   bytes],"path_digest":[32 bytes]}}`; `digest` is the same for every copy of a
 *   binary (not a plain sha256 of the file), `path_digest` changes per spawn.
 *   The reference stops and restarts a server whose record lacks
 *   `executableIdentity` or has a wrong one, and reads codexd's ISO
 *   `processStartTime`. `daemon.pid.lock`, `daemon-updater.pid.lock`,
 *   `app-server.pid.lock` are empty files it flocks briefly (none is held
 *   while idle); `daemon.lock` likewise.
 * - A dead pid in `app-server.pid` alone: "daemon package location changed;
 *   retry the command" (exit 1).
 * - settings.json: it parses `remoteControlEnabled` (bool), `shutdownGraceSeconds`
 *   (whole 0–300; `301` → "shutdown grace must be between 0 and 300 seconds"),
 *   `updater` (object), `updater.autoUpdateEnabled` (bool),
 *   `updater.updateIntervalMinutes` (whole 1..u32; `0` → "update interval must be
 *   positive"); `null`, `-1`, `60.0`, `0.5` → "failed to parse settings" from
 *   `version`/`start` with a server up (`stop` with none running does not read
 *   it). Every other key, also inside `updater`, is ignored and kept when it
 *   rewrites the file.
 * - A server started by hand: `update` → `{"status":"unsupported",…}` exit 0;
 *   `bootstrap`, `stop`, `restart` → "app server is running but is not managed"
 *   exit 1.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  disposableHome,
  eventually,
  isAlive,
  runCli,
  serverByHand,
  TARGET,
  type TestHome,
} from "../support/helpers.ts";
import { ensureRealCodex, layoutRealRelease } from "../support/real_codex.ts";

/** The reference versions tested: as it was, and the npm latest. */
const VERSIONS = ["0.169.0", "0.171.0"];

interface Run {
  code: number;
  json: Record<string, unknown>;
  stderr: string;
}

/** Runs the reference's daemon command of `version` against `home`. */
async function reference(version: string, home: string, args: string[]): Promise<Run> {
  const release = await ensureRealCodex(version);
  const out = await new Deno.Command(`${release}/bin/codex`, {
    args: ["app-server", "daemon", ...args],
    env: { CODEX_HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  const stderr = new TextDecoder().decode(out.stderr);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(stdout);
  } catch {
    // no JSON (the reference prints only `Error: …` on stderr when it fails)
  }
  return { code: out.code, json, stderr };
}

async function codexd(home: string, args: string[]): Promise<Run> {
  const run = await runCli(home, args);
  return { code: run.code, json: run.json, stderr: run.stderr };
}

function stateFiles(home: string): string[] {
  try {
    return [...Deno.readDirSync(`${home}/app-server-daemon`)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function recordPid(file: string): number | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(file)).pid;
  } catch {
    return undefined;
  }
}

/** Stops the reference's updater (its whole process group) and any server left; then the home goes. */
function neighbourHome(home: string): TestHome {
  const inner = disposableHome(home);
  return {
    home,
    [Symbol.asyncDispose]: async () => {
      for (
        const name of [
          "daemon-updater.pid",
          "app-server-updater.pid",
          "daemon.pid",
          "app-server.pid",
        ]
      ) {
        const pid = recordPid(`${home}/app-server-daemon/${name}`);
        if (pid === undefined || !isAlive(pid)) continue;
        try {
          Deno.kill(-pid, "SIGKILL");
        } catch {
          // not a group leader, or gone
        }
      }
      await inner[Symbol.asyncDispose]();
    },
  };
}

async function standaloneHome(version: string): Promise<TestHome> {
  const home = await Deno.makeTempDir({ prefix: "codexd-neighbour-" });
  await layoutRealRelease(home, version);
  return neighbourHome(home);
}

async function bareHome(): Promise<TestHome> {
  return neighbourHome(await Deno.makeTempDir({ prefix: "codexd-neighbour-" }));
}

type Tool = "codexd" | "reference";

/** One step: a tool, a command, the status it must answer. */
type Step = [Tool, string, string];

/** Runs `steps` in order; after each, the recorded server must be the one answering. */
async function runSteps(
  version: string,
  home: string,
  steps: Step[],
  label: string,
): Promise<void> {
  for (const [tool, command, expected] of steps) {
    const what = `${label}: ${tool} ${command}`;
    const run = tool === "codexd"
      ? await codexd(home, [command])
      : await reference(version, home, [command]);
    assertEquals(run.code, 0, `${what} exit code; stderr: ${run.stderr.slice(-600)}`);
    assertEquals(run.json.status, expected, `${what}: ${JSON.stringify(run.json)}`);
    if (expected === "started" || expected === "restarted" || expected === "running") {
      // Both tools see it, with the versions filled in.
      const [mine, theirs] = [
        await codexd(home, ["status"]),
        await reference(version, home, ["version"]),
      ];
      assertEquals(mine.json.status, "running", `${what} then codexd status`);
      assertEquals(mine.json.managed, true, `${what}: codexd manages it`);
      assertEquals(theirs.code, 0, `${what} then reference version: ${theirs.stderr.slice(-300)}`);
      assertEquals(theirs.json.appServerVersion, version, `${what} then reference version`);
      assertEquals(
        theirs.json.managedCodexVersion,
        version,
        `${what}: the reference finds its binary`,
      );
      assertEquals(mine.json.cliVersion, version, `${what}: codexd status cliVersion`);
    }
  }
}

for (const version of VERSIONS) {
  Deno.test(`codexd and the reference ${version} manage each other's server on an install.sh home`, async () => {
    await using h = await standaloneHome(version);
    await runSteps(version, h.home, [
      ["codexd", "start", "started"],
      ["reference", "restart", "restarted"],
      ["codexd", "restart", "restarted"],
      ["reference", "stop", "stopped"],
      ["reference", "start", "started"],
      ["codexd", "stop", "stopped"],
      ["codexd", "start", "started"],
      ["reference", "stop", "stopped"],
    ], `${version} standalone`);
    // Never the package layout's files on this home: they would make the reference refuse it.
    const files = stateFiles(h.home);
    for (const name of ["daemon.pid", "daemon.stderr.log"]) {
      assert(!files.includes(name), `${name} on an install.sh home: ${files}`);
    }
  });

  Deno.test(`the reference ${version} first on an install.sh home: both installs, its layout, codexd follows`, async () => {
    await using h = await standaloneHome(version);
    await runSteps(version, h.home, [
      ["reference", "start", "started"], // installs its package beside install.sh's
      ["codexd", "restart", "restarted"], // runs install.sh's binary, recorded where the reference looks
      ["reference", "restart", "restarted"],
      ["codexd", "stop", "stopped"],
      ["codexd", "start", "started"],
      ["reference", "stop", "stopped"],
    ], `${version} both installs`);
    assert(stateFiles(h.home).includes("daemon.stderr.log"));
    const again = await codexd(h.home, ["start"]);
    assertEquals(again.json.managedCodexPath, `${h.home}/packages/standalone/current/codex`);
    assert(stateFiles(h.home).includes("daemon.pid"), "codexd's server recorded in daemon.pid");
    assertEquals((await reference(version, h.home, ["stop"])).json.status, "stopped");
  });

  Deno.test(`codexd and the reference ${version} manage each other's server on a home the reference set up`, async () => {
    await using h = await bareHome();
    const first = await reference(version, h.home, ["start"]);
    assertEquals(first.json.status, "started", first.stderr.slice(-600));
    const packageBin = `${h.home}/packages/app-server-daemon/current/bin/codex`;
    // The reference's updater is seen and never doubled.
    const seen = await codexd(h.home, ["status"]);
    const updater = seen.json.updater as Record<string, unknown>;
    assertEquals(updater.running, true, JSON.stringify(updater));
    assertEquals(updater.owner, "reference");
    assertEquals(updater.pid, recordPid(`${h.home}/app-server-daemon/daemon-updater.pid`));
    assertEquals(seen.json.startedBy, "reference");
    assertEquals(seen.json.logPath, `${h.home}/app-server-daemon/daemon.stderr.log`);
    const logs = await codexd(h.home, ["logs"]);
    assertEquals(logs.json.startedBy, "reference");
    assertEquals(logs.json.logPath, `${h.home}/app-server-daemon/daemon.stderr.log`);
    const updaterLogs = await codexd(h.home, ["logs", "--updater"]);
    assertEquals(updaterLogs.json.startedBy, "reference");
    assertEquals(updaterLogs.json.logPath, `${h.home}/app-server-daemon/daemon-updater.stderr.log`);
    const boot = await codexd(h.home, ["bootstrap"]);
    assertEquals(boot.json.code, "UPDATER_CONFLICT", JSON.stringify(boot.json));
    assert(!stateFiles(h.home).includes("app-server-updater.pid"));

    await runSteps(version, h.home, [
      ["codexd", "stop", "stopped"],
      ["codexd", "start", "started"],
      ["reference", "restart", "restarted"],
      ["codexd", "restart", "restarted"],
      ["reference", "stop", "stopped"],
      ["codexd", "start", "started"],
      ["reference", "stop", "stopped"],
    ], `${version} package`);
    // codexd ran the reference's package (the only install) and said so.
    const started = await codexd(h.home, ["start"]);
    assertEquals(started.json.managedCodexPath, packageBin);
    assertEquals(started.json.managedCodexVersion, version);
    assertEquals(started.json.cliVersion, version);
    const ours = await codexd(h.home, ["logs"]);
    assertEquals(ours.json.startedBy, "codexd");
    assertEquals(ours.json.logPath, `${h.home}/app-server-daemon/daemon.stderr.log`);
    assertEquals((await reference(version, h.home, ["stop"])).json.status, "stopped");
  });
}

Deno.test("settings written by every codexd command stay readable by the reference", async () => {
  const version = VERSIONS.at(-1)!;
  await using h = await standaloneHome(version);
  const settingsFile = `${h.home}/app-server-daemon/settings.json`;
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  // A file as codexd wrote (and documented) it before: -1 and fractions the reference rejects.
  await Deno.writeTextFile(
    settingsFile,
    JSON.stringify({
      shutdownGraceSeconds: -1,
      updater: {
        enabled: false,
        updateIntervalMinutes: 0.5,
        source: "npm",
        supervision: { maxAttempts: 3 },
      },
    }),
  );
  const readable = async (after: string): Promise<void> => {
    // `version` reads settings only while a server runs.
    const up = (await codexd(h.home, ["start"])).json.status;
    assert(up === "started" || up === "alreadyRunning", `${after}: start ${up}`);
    for (const command of ["version", "stop"]) {
      const run = await reference(version, h.home, [command]);
      assert(
        !run.stderr.includes("failed to parse settings"),
        `${after} → ${command}: ${run.stderr}`,
      );
      assertEquals(run.code, 0, `${after} → reference ${command}: ${run.stderr.slice(-400)}`);
    }
  };
  for (
    const args of [
      ["disable-remote-control"],
      ["start"],
      ["restart"],
      ["bootstrap", "--no-auto-update"],
      ["stop", "--all"],
      ["enable-remote-control"],
    ]
  ) {
    const run = await codexd(h.home, args);
    // Without a ChatGPT login the server refuses remote control; the setting is persisted anyway.
    const refused = args[0] === "enable-remote-control" &&
      run.json.code === "REMOTE_CONTROL_UNAVAILABLE";
    assert(run.code === 0 || refused, `${args}: ${JSON.stringify(run.json)}`);
    await readable(args.join(" "));
  }
  const disk = JSON.parse(await Deno.readTextFile(settingsFile));
  assertEquals(disk.shutdownGraceSeconds, 300);
  assertEquals(disk.updater.updateIntervalMinutes, 1);
  assertEquals(disk.codexd.shutdownGraceSeconds, -1);
  assertEquals(disk.codexd.updater.updateIntervalMinutes, 0.5);
  assertEquals(disk.codexd.updater.supervision, { maxAttempts: 3 });
  await codexd(h.home, ["stop", "--all"]);
});

Deno.test("cliVersion and managedCodexVersion are filled on a cold cache", async () => {
  const version = VERSIONS[0];
  await using h = await standaloneHome(version);
  const cache = `${h.home}/app-server-daemon/managed-binary.json`;
  const cold = async (args: string[]): Promise<Record<string, unknown>> => {
    await Deno.remove(cache).catch(() => {});
    return (await codexd(h.home, args)).json;
  };
  for (
    const args of [
      ["disable-remote-control"],
      ["stop"],
      ["stop", "-c", 'model="o3"'],
      ["stop", "--enable", "unified_exec"],
      ["stop", "--disable", "unified_exec"],
    ]
  ) {
    const json = await cold(args);
    assertEquals(json.cliVersion, version, `${args}: ${JSON.stringify(json)}`);
    assertEquals(json.managedCodexVersion, version, `${args}`);
  }
  await using _server = await serverByHand(h.home);
  for (const args of [["version"], ["start"], ["status"]]) {
    const json = await cold(args);
    assertEquals(json.cliVersion, version, `${args} (hand-started): ${JSON.stringify(json)}`);
    assertEquals(json.managedCodexVersion, version, `${args}`);
  }
});

Deno.test("a server started by hand: update is unsupported and bootstrap refuses, nothing installed", async () => {
  await using h = await standaloneHome(VERSIONS[0]);
  await using _server = await serverByHand(h.home);
  const releases = [...Deno.readDirSync(`${h.home}/packages/standalone/releases`)].map((e) =>
    e.name
  );
  const update = await codexd(h.home, ["update"]);
  assertEquals(update.code, 0, update.stderr);
  assertEquals(update.json.status, "unsupported");
  assertEquals(update.json.reason, "unmanagedServer");
  const boot = await codexd(h.home, ["bootstrap", "--install"]);
  assertEquals(boot.code, 1);
  assertEquals(boot.json.code, "UNMANAGED_SERVER");
  assertEquals(
    [...Deno.readDirSync(`${h.home}/packages/standalone/releases`)].map((e) => e.name),
    releases,
  );
  const files = stateFiles(h.home);
  assert(!files.includes("app-server-updater.pid"), `no updater: ${files}`);
  assertMatch(String(boot.json.message), /no pid record names it/);
  assert(await eventually(async () => (await codexd(h.home, ["version"])).code === 0));
});

Deno.test("the reference's package is launched when it is the home's only install", async () => {
  // Laid out as the reference lays it (absolute `current` link), without running it.
  const version = VERSIONS[0];
  await using h = await bareHome();
  const releases = `${h.home}/packages/app-server-daemon/releases`;
  await Deno.mkdir(releases, { recursive: true });
  await new Deno.Command("cp", {
    args: ["-al", await ensureRealCodex(version), `${releases}/${version}-${TARGET}`],
  }).output();
  await Deno.symlink(
    `${releases}/${version}-${TARGET}`,
    `${h.home}/packages/app-server-daemon/current`,
  );
  const started = await codexd(h.home, ["start"]);
  assertEquals(started.json.status, "started", started.stderr);
  assertEquals(
    started.json.managedCodexPath,
    `${h.home}/packages/app-server-daemon/current/bin/codex`,
  );
  assertEquals(started.json.managedCodexVersion, version);
  assert(stateFiles(h.home).includes("daemon.pid"), "recorded where the reference looks");
  const theirs = await reference(version, h.home, ["stop"]);
  assertEquals(theirs.json.status, "stopped", theirs.stderr.slice(-400));
  const update = await codexd(h.home, ["update"]);
  assertEquals(update.json.reason, "referencePackage");
});
