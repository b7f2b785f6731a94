/**
 * Black-box tests of remote control, bootstrap, the updater loop and
 * supervision, against the fake app-server with short injected intervals.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  configureFake,
  eventually,
  fakeHome,
  fakeLaunches,
  installFakeRelease,
  isAlive,
  processesOfHome,
  runCli,
} from "../support/helpers.ts";

/** Settings with intervals short enough for tests. */
async function fastSettings(home: string, extra: Record<string, unknown> = {}): Promise<void> {
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(
    `${home}/app-server-daemon/settings.json`,
    JSON.stringify({
      keepMe: "unknown keys survive",
      ...extra,
      updater: {
        updateIntervalMinutes: 60,
        firstPassDelaySeconds: 3600,
        supervision: {
          checkSeconds: 1,
          backoffBaseSeconds: 1,
          backoffMaxSeconds: 2,
          maxAttempts: 3,
          stableSeconds: 30,
        },
        ...(extra.updater as Record<string, unknown> | undefined),
      },
    }),
  );
}

function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** The process group of `pid` (field 5 of /proc/PID/stat), or -1. */
function pgidOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return -1;
  }
}

/**
 * The updater loops of `home`: group leaders only — a `$(…)` subshell of the
 * loop briefly carries the same command line.
 */
function updaterLoops(home: string): number[] {
  return processesOfHome(home).filter((pid) =>
    cmdline(pid).includes("codexd-update-loop") && pgidOf(pid) === pid
  );
}

async function status(home: string): Promise<Record<string, unknown>> {
  return (await runCli(home, ["status"])).json;
}

Deno.test("enable-remote-control persists the setting, every launch carries it, and a running app-server switches live", async () => {
  await using h = await fakeHome();
  await fastSettings(h.home);
  const enabledStopped = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabledStopped.json.status, "enabled");
  assertEquals(enabledStopped.json.restarted, false);
  assertEquals(enabledStopped.json.applied, "nextStart");
  assertEquals(enabledStopped.json.remoteControlEnabled, true);
  const started = (await runCli(h.home, ["start"])).json;
  let launches = await fakeLaunches(h.home);
  assert(launches[0].args.includes("--remote-control"));
  assertEquals(launches[0].remoteControlDisabledEnv, null);

  assertEquals((await runCli(h.home, ["enable-remote-control"])).json.status, "alreadyEnabled");
  assertEquals((await fakeLaunches(h.home)).length, 1, "no restart when already enabled");

  const disabled = (await runCli(h.home, ["disable-remote-control"])).json;
  assertEquals(disabled.status, "disabled");
  assertEquals(disabled.restarted, false, "switched live, not restarted");
  assertEquals(disabled.pid, started.pid);
  assertEquals((await fakeLaunches(h.home)).length, 1);
  assertEquals((await runCli(h.home, ["disable-remote-control"])).json.status, "alreadyDisabled");

  // The next launch carries the persisted setting.
  const restarted = (await runCli(h.home, ["restart"])).json;
  assertNotEquals(restarted.pid, started.pid);
  launches = await fakeLaunches(h.home);
  assertEquals(launches.length, 2);
  assert(!launches[1].args.includes("--remote-control"));
  assertEquals(launches[1].remoteControlDisabledEnv, "1");

  const settings = JSON.parse(
    await Deno.readTextFile(`${h.home}/app-server-daemon/settings.json`),
  );
  assertEquals(settings.keepMe, "unknown keys survive");
  assertEquals(settings.remoteControlEnabled, false);
  assertEquals((await status(h.home)).remoteControlEnabled, false);
});

Deno.test("bootstrap without an installed codex fails with BINARY_MISSING and a hint", async () => {
  await using h = await fakeHome();
  await Deno.remove(`${h.home}/packages/standalone/current`);
  const run = await runCli(h.home, ["bootstrap"]);
  assertEquals(run.code, 1);
  assertEquals(run.json.code, "BINARY_MISSING");
  assertEquals(run.json.hint, "codexd bootstrap --install");
  assertEquals(processesOfHome(h.home).length, 0);
});

Deno.test("bootstrap starts one updater and start re-ensures it after it died", async () => {
  await using h = await fakeHome();
  await fastSettings(h.home);
  const boot = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(boot.code, 0, boot.stdout + boot.stderr);
  assertEquals(boot.json.status, "bootstrapped");
  assertEquals(boot.json.remoteControlEnabled, true);
  assertEquals(boot.json.autoUpdateEnabled, true);
  const updaterPid = boot.json.updaterPid as number;
  assert(isAlive(updaterPid));
  assertEquals(updaterLoops(h.home), [updaterPid]);

  const again = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(again.json.appServer, "alreadyRunning");
  assertEquals(again.json.updaterPid, updaterPid, "one updater per CODEX_HOME");

  Deno.kill(-updaterPid, "SIGKILL"); // the updater and its sleeping child
  assert(await eventually(() => updaterLoops(h.home).length === 0));
  assertEquals((await status(h.home)).updater, {
    ...((await status(h.home)).updater as Record<string, unknown>),
    running: false,
  });
  await runCli(h.home, ["start"]);
  const loops = updaterLoops(h.home);
  assertEquals(loops.length, 1);
  assertNotEquals(loops[0], updaterPid);
  const st = await status(h.home);
  assertEquals((st.updater as Record<string, unknown>).pid, loops[0]);

  const stop = await runCli(h.home, ["stop", "--all"]);
  assertEquals(stop.json.updaterStopped, true);
  assertEquals(processesOfHome(h.home).map(cmdline), []);
});

Deno.test("supervision brings back a SIGKILLed app-server with the same flags", async () => {
  await using h = await fakeHome();
  await fastSettings(h.home);
  const boot = (await runCli(h.home, ["bootstrap", "--remote-control"])).json;
  Deno.kill(boot.pid as number, "SIGKILL");
  let latest: Record<string, unknown> = {};
  assert(
    await eventually(
      async () => {
        latest = await status(h.home);
        const restarts = (latest.updater as Record<string, unknown>).restartCount;
        return latest.status === "running" && latest.pid !== boot.pid && restarts === 1;
      },
      20_000,
      200,
    ),
    "the app-server came back",
  );
  const updater = latest.updater as Record<string, unknown>;
  assertEquals(updater.restartCount, 1);
  assertMatch(updater.lastExit as string, new RegExp(`pid ${boot.pid} has exited`));
  const launches = await fakeLaunches(h.home);
  assertEquals(launches.length, 2);
  assertEquals(launches[1].args, launches[0].args);
  assert(launches[1].args.includes("--remote-control"), "remote control was not dropped");
});

Deno.test("a user stop is not undone by supervision", async () => {
  await using h = await fakeHome();
  await fastSettings(h.home);
  await runCli(h.home, ["bootstrap"]);
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  // Three liveness checks pass by; supervision must leave it stopped.
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  assertEquals((await fakeLaunches(h.home)).length, 1);
  assertEquals((await status(h.home)).status, "stopped");
  assertEquals(updaterLoops(h.home).length, 1, "the updater itself keeps running");
});

Deno.test("a crash-looping app-server backs off and ends in a visible give-up", async () => {
  await using h = await fakeHome();
  await fastSettings(h.home);
  const boot = (await runCli(h.home, ["bootstrap"])).json;
  await configureFake(h.home, { exitAtOnce: true });
  Deno.kill(boot.pid as number, "SIGKILL");
  let updater: Record<string, unknown> = {};
  assert(
    await eventually(
      async () => {
        updater = (await status(h.home)).updater as Record<string, unknown>;
        return updater.gaveUp === true;
      },
      30_000,
      250,
    ),
    "supervision gave up",
  );
  // 1 good launch + maxAttempts (3) failed restarts, then nothing more.
  assertEquals((await fakeLaunches(h.home)).length, 4);
  assertEquals(updater.consecutiveFailures, 3);
  assertEquals(updater.backoffSeconds, 2, "backoff grew to its cap");
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  assertEquals((await fakeLaunches(h.home)).length, 4, "no restart storm after giving up");

  await configureFake(h.home, {});
  const start = (await runCli(h.home, ["start"])).json;
  assertEquals(start.status, "started");
  assertEquals(((await status(h.home)).updater as Record<string, unknown>).gaveUp, false);
});

Deno.test("an external codex binary is launched but never updated", async () => {
  await using h = await fakeHome();
  const external = await Deno.makeTempDir({ prefix: "codexd-ext-" });
  try {
    const launcher = await installFakeRelease(external, "7.7.7");
    await fastSettings(h.home);
    await configureFake(h.home, { version: "7.7.7" });
    const boot = await runCli(h.home, ["bootstrap", "--codex-bin", launcher]);
    assertEquals(boot.json.managedCodexPath, launcher);
    assertEquals(boot.json.autoUpdateEnabled, false);
    assertEquals(boot.json.appServerVersion, "7.7.7");
    const update = await runCli(h.home, ["update"]);
    assertEquals(update.json.status, "pinned");
    assertEquals(update.json.pin, { by: "codexBin", path: launcher });
    assertEquals(update.json.reason, "externalBinary");
    const settings = JSON.parse(
      await Deno.readTextFile(`${h.home}/app-server-daemon/settings.json`),
    );
    assertEquals(settings.codexd.codexBin, launcher);
    // Later commands keep using it without the flag.
    assertEquals((await runCli(h.home, ["restart"])).json.managedCodexPath, launcher);
  } finally {
    await Deno.remove(external, { recursive: true });
  }
});

Deno.test("stop --all kills the updater's whole process group, installer children included", async () => {
  await using h = await fakeHome();
  // install.sh that never finishes: the pass's `sh -s` and its `sleep` sit
  // in the updater's process group.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("echo installing >&2; sleep 300\n"),
  );
  try {
    await fastSettings(h.home, { updater: { firstPassDelaySeconds: 0 } });
    const env = { CODEXD_INSTALL_SCRIPT_URL: `http://127.0.0.1:${server.addr.port}/install.sh` };
    const boot = await runCli(h.home, ["bootstrap", "--source", "install-sh"], { env });
    const updaterPid = boot.json.updaterPid as number;
    let installer: number[] = [];
    assert(
      await eventually(() => {
        installer = processesOfHome(h.home).filter((pid) => cmdline(pid).startsWith("sleep 300"));
        return installer.length > 0;
      }),
      "the installer is running",
    );
    const pass = processesOfHome(h.home).filter((pid) =>
      cmdline(pid).includes("--updater-pass") && !cmdline(pid).includes("codexd-update-loop")
    );
    assertEquals(pass.length, 1);
    const stop = await runCli(h.home, ["stop", "--all", "--grace-seconds", "1"]);
    assertEquals(stop.json.updaterStopped, true);
    assert(
      await eventually(() => [updaterPid, ...pass, ...installer].every((pid) => !isAlive(pid))),
    );
    assertEquals(processesOfHome(h.home).map(cmdline), []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the updater runs update passes on its interval and records them", async () => {
  const { startTestRegistry } = await import("../fixtures/test_registry.ts");
  await using registry = await startTestRegistry([{ version: "9.9.9" }]);
  await using h = await fakeHome();
  await fastSettings(h.home, { updater: { firstPassDelaySeconds: 0 } });
  await runCli(h.home, ["bootstrap"], { env: { NPM_CONFIG_REGISTRY: registry.url } });
  let updater: Record<string, unknown> = {};
  assert(
    await eventually(
      async () => {
        updater = (await status(h.home)).updater as Record<string, unknown>;
        return typeof updater.lastCheck === "string";
      },
      30_000,
      250,
    ),
    "an update pass ran",
  );
  assertEquals(updater.lastResult, "noUpdate");
  assertEquals(updater.running, true);
  await runCli(h.home, ["stop", "--all"]);
});
