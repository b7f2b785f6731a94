/**
 * Install and update tests against a loopback npm registry serving fake
 * releases: the npm installer's happy path and every failure (nothing
 * changes, the old version keeps serving), update with restart, rollback of
 * a release that never becomes ready, and update racing other commands.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import {
  disposableHome,
  fakeLaunches,
  MOD_TS,
  processesOfHome,
  runCli,
  TARGET,
  type TestHome,
} from "../support/helpers.ts";
import { fakeLauncherScript, startTestRegistry } from "../fixtures/test_registry.ts";
import { switchCurrent } from "../../lib/install/layout.ts";
import { installFromNpm } from "../../lib/install/npm.ts";
import { CodexdError } from "../../lib/errors.ts";
import { daemonPaths } from "../../lib/state/paths.ts";

async function emptyHome(): Promise<TestHome> {
  return disposableHome(await Deno.makeTempDir({ prefix: "codexd-install-" }));
}

/** Live fake app-server processes of `home`. */
function appServers(home: string): number[] {
  return processesOfHome(home).filter((pid) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("fake_app_server.ts");
    } catch {
      return false;
    }
  });
}

async function currentRelease(home: string): Promise<string> {
  return await Deno.readLink(`${home}/packages/standalone/current`);
}

function leftovers(home: string): string[] {
  const names: string[] = [];
  for (const dir of ["packages/standalone", "packages/standalone/releases"]) {
    try {
      for (const entry of Deno.readDirSync(`${home}/${dir}`)) {
        if (entry.name.startsWith(".")) names.push(`${dir}/${entry.name}`);
      }
    } catch {
      // not there
    }
  }
  return names;
}

Deno.test("installFromNpm() installs a pinned version and the latest, then is a no-op", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }, { version: "2.0.0" }]);
  registry.setLatest("2.0.0");
  await using h = await emptyHome();
  const paths = daemonPaths(h.home);
  const pinned = await installFromNpm(paths, { version: "1.0.0", registry: registry.url });
  assertEquals(pinned.installed, true);
  assertEquals(await currentRelease(h.home), `releases/1.0.0-${TARGET}`);
  assertEquals(
    await Deno.readLink(`${pinned.releaseDir}/codex`),
    "bin/codex",
    "the codex -> bin/codex alias",
  );
  const latest = await installFromNpm(paths, { registry: registry.url });
  assertEquals(latest.version, "2.0.0");
  assertEquals(latest.previousRelease, `1.0.0-${TARGET}`);
  const requests = registry.tarballRequests();
  const again = await installFromNpm(paths, { registry: registry.url });
  assertEquals(again.installed, false);
  assertEquals(registry.tarballRequests(), requests, "no download when current");
  assertEquals(await switchCurrent(paths, `1.0.0-${TARGET}`), `2.0.0-${TARGET}`);
  assertEquals(leftovers(h.home), []);
});

Deno.test("a failed download changes nothing and the running app-server keeps serving", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  const boot = await runCli(h.home, ["bootstrap", "--install", "--no-auto-update"], { env });
  assertEquals(boot.code, 0, boot.stdout + boot.stderr);
  assertEquals(boot.json.installed, true);
  assertEquals(boot.json.appServerVersion, "1.0.0");
  const faults = [
    { badIntegrity: true, why: /integrity mismatch/ },
    { truncate: true, why: /Cannot install codex/ },
    { tarball500: true, why: /HTTP 500/ },
    { binSymlink: "../codex-path/rg", why: /bin\/codex is not a regular file/ },
    {
      extraEntries: [{ name: "package/../../escaped", content: "x" }],
      why: /contains "\.\."/,
    },
  ];
  for (const [i, fault] of faults.entries()) {
    const version = `2.0.${i}`;
    await registry.publish({ version, ...fault });
    registry.setLatest(version);
    const update = await runCli(h.home, ["update"], { env });
    assertEquals(update.code, 1, update.stdout);
    assertEquals(update.json.code, "INSTALL_FAILED");
    assertMatch(update.json.message as string, fault.why);
    assertEquals(await currentRelease(h.home), `releases/1.0.0-${TARGET}`);
    assertEquals(leftovers(h.home), []);
  }
  registry.failMetadata(true);
  const metadata = await runCli(h.home, ["update"], { env });
  assertEquals(metadata.json.code, "INSTALL_FAILED");
  assertMatch(metadata.json.message as string, /HTTP 500/);
  const version = await runCli(h.home, ["version"]);
  assertEquals(version.json.appServerVersion, "1.0.0");
  assertEquals(version.json.pid, boot.json.pid, "never restarted");
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("a stalled download is abandoned with INSTALL_FAILED", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0", delayMs: 3_000 }]);
  await using h = await emptyHome();
  await assertRejects(
    () => installFromNpm(daemonPaths(h.home), { registry: registry.url, stallMs: 300 }),
    (e) => e instanceof CodexdError && e.code === "INSTALL_FAILED" && /stalled/.test(e.message),
  );
  assertEquals(leftovers(h.home), []);
  // Let the delayed response finish before the registry shuts down.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
});

Deno.test("update installs the new release, restarts onto it, then reports noUpdate", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  await runCli(h.home, ["bootstrap", "--install", "--remote-control"], { env });
  await registry.publish({ version: "2.0.0" });
  registry.setLatest("2.0.0");
  const update = await runCli(h.home, ["update"], { env });
  assertEquals(update.code, 0, update.stdout + update.stderr);
  assertEquals(update.json.status, "updated");
  assertEquals(update.json.previousVersion, "1.0.0");
  assertEquals(update.json.version, "2.0.0");
  assertEquals(update.json.restarted, true);
  assertEquals(update.json.appServerVersion, "2.0.0");
  const launches = await fakeLaunches(h.home);
  assert(launches.at(-1)!.args.includes("--remote-control"), "remote control survives updates");
  const again = await runCli(h.home, ["update"], { env });
  assertEquals(again.json.status, "noUpdate");
  assertEquals(again.json.restarted, false);
  assertEquals((await fakeLaunches(h.home)).length, launches.length);

  await registry.publish({ version: "3.0.0" });
  registry.setLatest("3.0.0");
  assertEquals((await runCli(h.home, ["update"], { env })).json.appServerVersion, "3.0.0");
  const kept = [...Deno.readDirSync(`${h.home}/packages/standalone/releases`)]
    .map((entry) => entry.name).sort();
  assertEquals(kept, [`2.0.0-${TARGET}`, `3.0.0-${TARGET}`], "old releases are pruned");
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("a release that never becomes ready is rolled back and the previous one serves", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  await runCli(h.home, ["bootstrap", "--install", "--no-auto-update"], { env });
  await registry.publish({
    version: "3.0.0",
    script: fakeLauncherScript("3.0.0", "FAKE_NEVER_READY=1"),
  });
  registry.setLatest("3.0.0");
  const update = await runCli(h.home, ["update", "--start-timeout-seconds", "2"], { env });
  assertEquals(update.code, 1, update.stdout);
  assertEquals(update.json.code, "UPDATE_FAILED");
  assertEquals(update.json.rolledBack, true, JSON.stringify(update.json));
  assertEquals(update.json.serving, true);
  assertEquals(update.json.failedVersion, "3.0.0");
  assertEquals(update.json.rolledBackTo, "1.0.0");
  assertEquals(await currentRelease(h.home), `releases/1.0.0-${TARGET}`);
  const version = await runCli(h.home, ["version"]);
  assertEquals(version.json.appServerVersion, "1.0.0");
  assertEquals(appServers(h.home).length, 1, "the failed release left no process behind");
  const next = await runCli(h.home, ["update", "--start-timeout-seconds", "2"], { env });
  assertEquals(next.json.status, "noUpdate", "the failed release is skipped");
  assertMatch(next.json.reason as string, /skipped 3\.0\.0/);
  assertEquals(await currentRelease(h.home), `releases/1.0.0-${TARGET}`);
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("update racing stop, start and enable-remote-control leaves one app-server with the right flags", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const env = { NPM_CONFIG_REGISTRY: registry.url };
  await runCli(h.home, ["bootstrap", "--install", "--no-auto-update"], { env });
  await registry.publish({ version: "2.0.0" });
  registry.setLatest("2.0.0");
  const runs = await Promise.all([
    runCli(h.home, ["update"], { env }),
    runCli(h.home, ["stop"]),
    runCli(h.home, ["enable-remote-control"]),
    runCli(h.home, ["start"]),
    runCli(h.home, ["update"], { env }),
  ]);
  for (const run of runs) assertEquals(run.code, 0, run.stdout + run.stderr);
  const final = await runCli(h.home, ["start"]);
  assertEquals(final.json.appServerVersion, "2.0.0");
  const servers = appServers(h.home);
  assertEquals(servers, [final.json.pid]);
  // Applied live or by a launch flag, depending on the order: ask the server itself.
  const status = (await runCli(h.home, ["status"])).json;
  assertEquals(status.remoteControlEnabled, true);
  assertEquals(
    (status.remoteControl as { status: string }).status,
    "connected",
    "the running app-server has remote control",
  );
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("the install-sh source runs the script with CODEX_HOME and reports failures", async () => {
  let body = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(body),
  );
  await using h = await emptyHome();
  const release = `$CODEX_HOME/packages/standalone/releases/4.0.0-${TARGET}`;
  body = [
    "set -e",
    `mkdir -p "${release}/bin"`,
    `printf '%s' '${fakeLauncherScript("4.0.0")}' > "${release}/bin/codex"`,
    `chmod +x "${release}/bin/codex"`,
    `ln -sfn "releases/4.0.0-${TARGET}" "$CODEX_HOME/packages/standalone/current"`,
  ].join("\n");
  const env = { CODEXD_INSTALL_SCRIPT_URL: `http://127.0.0.1:${server.addr.port}/install.sh` };
  try {
    const boot = await runCli(h.home, ["bootstrap", "--install", "--source", "install-sh"], {
      env,
    });
    assertEquals(boot.code, 0, boot.stdout + boot.stderr);
    assertEquals(boot.json.appServerVersion, "4.0.0");
    body = "echo 'no disk space' >&2; exit 7";
    const update = await runCli(h.home, ["update"], { env });
    assertEquals(update.json.code, "INSTALL_FAILED");
    assertMatch(update.json.message as string, /exited with code 7:\nno disk space/);
    assertEquals((await runCli(h.home, ["version"])).json.appServerVersion, "4.0.0");
    await runCli(h.home, ["stop", "--all"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("progress goes to stderr, never to stdout: a terminal and a pipe both see the stages", async () => {
  await using registry = await startTestRegistry([{ version: "1.0.0" }]);
  await using h = await emptyHome();
  const out = `${h.home}/stdout.json`;
  // `script` gives the command a pseudo-terminal; stdout is redirected to a file.
  const command =
    `CODEX_HOME='${h.home}' NPM_CONFIG_REGISTRY='${registry.url}' '${Deno.execPath()}' run -A '${MOD_TS}' update --json > '${out}'`;
  const run = await new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const terminal = new TextDecoder().decode(run.stdout);
  assertEquals(run.code, 0, terminal);
  assertMatch(terminal, /codexd: downloading codex 1\.0\.0 \(\d+\.\d MiB\)/);
  const stdout = await Deno.readTextFile(out);
  assertEquals(stdout.trim().split("\n").length, 1);
  assertEquals(JSON.parse(stdout).status, "updated");

  // A non-terminal stderr (`ssh host codexd update`): one plain line per stage, no bar.
  await using again = await emptyHome();
  const piped = await runCli(again.home, ["update", "--version", "1.0.0"], {
    env: { NPM_CONFIG_REGISTRY: registry.url },
  });
  assertEquals(piped.json.status, "updated", piped.stderr);
  assertEquals(piped.stderr.trim().split("\n").map((line) => line.replace(/ \(.*/, "")), [
    "codexd: resolving codex 1.0.0",
    "codexd: downloading codex 1.0.0",
    "codexd: extracting codex 1.0.0",
    "codexd: verifying codex 1.0.0",
    "codexd: switching codex 1.0.0",
  ]);
  assertMatch(piped.stderr, /downloading codex 1\.0\.0 \(\d+\.\d MiB\)/);
});
