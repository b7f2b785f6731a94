/**
 * Black-box CLI tests of install hardening against the loopback registry:
 * path-like versions through `update`, `bootstrap --install` and an updater
 * pass; SIGINT/SIGTERM mid-download (one JSON error, no work dirs left);
 * `kill -9` mid-download and the next install cleaning up; two concurrent
 * `bootstrap --install` where only the one that installed says so.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  disposableHome,
  eventually,
  MOD_TS,
  runCli,
  TARGET,
  type TestHome,
} from "../support/helpers.ts";
import { startTestRegistry, versionOnlyScript } from "../fixtures/test_registry.ts";
import { installFromNpm } from "../../lib/install/npm.ts";
import { daemonPaths } from "../../lib/state/paths.ts";

async function emptyHome(): Promise<TestHome> {
  return disposableHome(await Deno.makeTempDir({ prefix: "codexd-install-cli-" }));
}

/** Work directories of installs under the standalone root. */
function workDirs(home: string): string[] {
  const found: string[] = [];
  for (const dir of ["packages/standalone", "packages/standalone/releases"]) {
    try {
      for (const entry of Deno.readDirSync(`${home}/${dir}`)) {
        if (/^\.(install-|staging|old-|current)/.test(entry.name)) {
          found.push(`${dir}/${entry.name}`);
        }
      }
    } catch {
      // not there
    }
  }
  return found;
}

/** Whether a download into `.install-*` has received bytes. */
function downloading(home: string): boolean {
  for (const dir of workDirs(home).filter((d) => d.includes(".install-"))) {
    try {
      if (Deno.statSync(`${home}/${dir}/codex.tgz`).size > 0) return true;
    } catch {
      // not yet
    }
  }
  return false;
}

function spawnCli(home: string, args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_TS, ...args],
    env: { CODEX_HOME: home, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Waits for a child within `ms`, killing it (and failing) past that. */
async function finish(child: Deno.ChildProcess, ms = 20_000): Promise<Deno.CommandOutput> {
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a path-like --version is refused with INSTALL_FAILED by update and bootstrap --install", async () => {
  await using registry = await startTestRegistry([{
    version: "1.0.0",
    script: versionOnlyScript("1.0.0"),
  }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  // Where `releases/<v>-<target>` with v = ../../../victim would land.
  const victim = `${h.home}/victim-${TARGET}`;
  await Deno.mkdir(victim);
  await Deno.writeTextFile(`${victim}/keep`, "x");
  const marker = `${h.home}/pwned`;
  const runs = [
    ["update", "--version", "../../../victim"],
    ["update", "--version", `$(touch ${marker})`],
    ["bootstrap", "--install", "--version", "../../../victim"],
    ["bootstrap", "--install", "--version", `$(touch ${marker})`],
    ["update", "--source", "install-sh", "--version", "../../../victim"],
  ];
  for (const args of runs) {
    const run = await runCli(h.home, args, { env });
    assertEquals(run.code, 1, run.stdout + run.stderr);
    assertEquals(run.json.code, "INSTALL_FAILED", args.join(" "));
    assertMatch(run.json.message as string, /not a version/);
  }
  assertEquals(await Deno.readTextFile(`${victim}/keep`), "x");
  assertEquals(await Deno.stat(marker).then(() => true, () => false), false);
  assertEquals(
    await Deno.lstat(`${h.home}/packages/standalone/current`).then(() => true, () => false),
    false,
  );
  assertEquals(registry.tarballRequests(), 0);
});

Deno.test("an updater pass against a registry whose latest is ../ records INSTALL_FAILED and touches nothing", async () => {
  await using registry = await startTestRegistry([{
    version: "1.0.0",
    script: versionOnlyScript("1.0.0"),
  }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  await installFromNpm(daemonPaths(h.home), { registry: registry.url });
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  const victim = `${h.home}/victim-${TARGET}`;
  await Deno.mkdir(victim);
  registry.setLatest("../../../victim");
  const pass = await runCli(h.home, ["update", "--updater-pass"], { env });
  assertEquals(pass.json.code, "INSTALL_FAILED", pass.stdout);
  assert(await Deno.stat(victim).then(() => true, () => false), "the directory outside survives");
  assertEquals(
    await Deno.readLink(`${h.home}/packages/standalone/current`),
    `releases/1.0.0-${TARGET}`,
  );
  const state = JSON.parse(
    await Deno.readTextFile(`${h.home}/app-server-daemon/updater-state.json`),
  );
  assertMatch(state.lastResult, /^error: .*not a version/);
});

const interrupts = [
  { signal: "SIGINT", args: ["update"] },
  { signal: "SIGTERM", args: ["bootstrap", "--install", "--no-auto-update"] },
] as const;
for (const { signal, args } of interrupts) {
  Deno.test(`${signal} during ${args.join(" ")}'s download prints one INTERRUPTED error and leaves no work dir`, async () => {
    await using registry = await startTestRegistry([
      { version: "1.0.0", script: versionOnlyScript("1.0.0"), pauseMidwayMs: 60_000 },
    ]);
    await using h = await emptyHome();
    const child = spawnCli(h.home, [...args], { NPM_CONFIG_REGISTRY: registry.url });
    const output = finish(child);
    try {
      assert(await eventually(() => downloading(h.home), 15_000), "the download started");
      child.kill(signal);
    } finally {
      const out = await output;
      const stdout = new TextDecoder().decode(out.stdout);
      const lines = stdout.trim().split("\n");
      assertEquals(lines.length, 1, stdout);
      const json = JSON.parse(lines[0]);
      assertEquals(json.code, "INTERRUPTED", stdout);
      assertMatch(json.message, new RegExp(`interrupted by ${signal}`));
      assertEquals(out.code, 1);
    }
    assertEquals(workDirs(h.home), []);
    assertEquals(
      await Deno.stat(`${h.home}/packages/standalone/install.lock.d`).then(() => true, () => false),
      false,
      "the mkdir lock is released",
    );
  });
}

Deno.test("kill -9 during bootstrap --install leaves work dirs that the next install removes at once", async () => {
  await using registry = await startTestRegistry([
    { version: "1.0.0", script: versionOnlyScript("1.0.0"), pauseMidwayMs: 60_000 },
  ]);
  await using h = await emptyHome();
  const child = spawnCli(h.home, ["bootstrap", "--install", "--no-auto-update"], {
    NPM_CONFIG_REGISTRY: registry.url,
  });
  const output = finish(child);
  try {
    assert(await eventually(() => downloading(h.home), 15_000), "the download started");
  } finally {
    child.kill("SIGKILL");
    await output;
  }
  assert(workDirs(h.home).length > 0, "the killed install left its work dir");
  await registry.publish({ version: "2.0.0", script: versionOnlyScript("2.0.0") });
  registry.setLatest("2.0.0");
  // Bounded: the dead codexd's mkdir lock must be taken over, not waited out.
  const result = await installFromNpm(daemonPaths(h.home), {
    registry: registry.url,
    lockTimeoutMs: 10_000,
  });
  assertEquals(result.installed, true);
  assertEquals(workDirs(h.home), []);
});

Deno.test("two concurrent bootstrap --install: only the one that installed reports installed", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const args = ["bootstrap", "--install", "--no-auto-update"];
  const runs = await Promise.all([runCli(h.home, args, { env }), runCli(h.home, args, { env })]);
  try {
    for (const run of runs) assertEquals(run.code, 0, run.stdout + run.stderr);
    assertEquals(runs.map((run) => run.json.installed).sort(), [false, true]);
    assertEquals(registry.tarballRequests(), 1);
  } finally {
    await runCli(h.home, ["stop", "--all"]);
  }
});

Deno.test("every update pass sweeps what killed installs left, even when it installs nothing", async () => {
  await using registry = await startTestRegistry([{
    version: "1.0.0",
    script: versionOnlyScript("1.0.0"),
  }]);
  await using h = await emptyHome();
  await installFromNpm(daemonPaths(h.home), { registry: registry.url });
  await Deno.mkdir(`${h.home}/app-server-daemon`, { mode: 0o700 });
  await Deno.writeTextFile(
    `${h.home}/app-server-daemon/settings.json`,
    JSON.stringify({ updater: { autoUpdateEnabled: false } }),
  );
  const root = `${h.home}/packages/standalone`;
  await Deno.mkdir(`${root}/.install-dead/x`, { recursive: true });
  await Deno.mkdir(`${root}/releases/.staging-dead`, { recursive: true });
  const pass = await runCli(h.home, ["update", "--updater-pass"], {
    env: { NPM_CONFIG_REGISTRY: registry.url },
  });
  assertEquals(pass.json.reason, "autoUpdateDisabled", pass.stdout);
  assertEquals(workDirs(h.home), []);
});
