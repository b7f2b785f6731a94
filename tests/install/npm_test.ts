/**
 * Library tests of the npm installer against the loopback registry: installs
 * (pinned, latest, no-op, reuse, repair), every
 * failure leaving `current` and the disk as they were, the install locks
 * shared with install.sh (flock and mkdir), and the atomic `current` swap
 * (and `current_link_test.ts`). The registry and metadata tables are in
 * `registry_test.ts` beside this file.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { TARGET } from "../support/helpers.ts";
import {
  type PublishedVersion,
  startTestRegistry,
  versionOnlyScript,
} from "../fixtures/test_registry.ts";
import { AUTO_UPDATE_MARKER, switchCurrent } from "../../lib/install/layout.ts";
import {
  acquireInstallLock,
  MKDIR_LOCK_STALE_MS,
  mkdirLockIsStale,
} from "../../lib/install/lock.ts";
import { installFromNpm } from "../../lib/install/npm.ts";
import { CodexdError, type ErrorCode } from "../../lib/errors.ts";
import { type DaemonPaths, daemonPaths } from "../../lib/state/paths.ts";

/** A fast fake release: `bin/codex` only answers `--version`. */
function release(
  version: string,
  faults: Omit<PublishedVersion, "version"> = {},
): PublishedVersion {
  return { version, script: versionOnlyScript(version), ...faults };
}

/** A temp CODEX_HOME removed on dispose. */
async function tempHome(): Promise<{ paths: DaemonPaths } & AsyncDisposable> {
  const home = await Deno.makeTempDir({ prefix: "codexd-npm-" });
  return {
    paths: daemonPaths(home),
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }),
  };
}

async function current(paths: DaemonPaths): Promise<string | undefined> {
  return await Deno.readLink(`${paths.standaloneDir}/current`).catch(() => undefined);
}

/** Everything under the standalone root except the lock file, sorted. */
function layout(paths: DaemonPaths): string[] {
  const names: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const entry of Deno.readDirSync(dir)) {
      names.push(`${prefix}${entry.name}`);
      if (entry.isDirectory && prefix === "") walk(`${dir}/${entry.name}`, `${entry.name}/`);
    }
  };
  walk(paths.standaloneDir, "");
  return names.filter((name) => name !== "install.lock").sort();
}

function isCode(code: ErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof CodexdError && error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

Deno.test("mkdirLockIsStale() never takes over a live owner and waits out install.sh's window", () => {
  const now = 10_000_000;
  const table: [{ alive: boolean; startedAtMs?: number }, boolean][] = [
    [{ alive: true, startedAtMs: 0 }, false],
    [{ alive: true }, false],
    [{ alive: false }, true],
    [{ alive: false, startedAtMs: now - 1_000 }, false],
    [{ alive: false, startedAtMs: now - MKDIR_LOCK_STALE_MS }, true],
  ];
  for (const [holder, stale] of table) {
    assertEquals(mkdirLockIsStale(holder, now), stale, JSON.stringify(holder));
  }
});

Deno.test("installFromNpm() installs a pinned version and points current at it", async () => {
  await using registry = await startTestRegistry([release("1.0.0"), release("2.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  const result = await installFromNpm(paths, { version: "1.0.0", registry: registry.url });
  const name = `1.0.0-${TARGET}`;
  assertEquals(result, {
    version: "1.0.0",
    target: TARGET,
    releaseDir: `${paths.standaloneDir}/releases/${name}`,
    installed: true,
    previousRelease: undefined,
  });
  assertEquals(await current(paths), `releases/${name}`, "relative symlink");
  assertEquals(await Deno.readLink(`${result.releaseDir}/codex`), "bin/codex");
  const out = await new Deno.Command(`${paths.standaloneDir}/current/codex`, {
    args: ["--version"],
  }).output();
  assertEquals(new TextDecoder().decode(out.stdout).trim(), "codex-cli 1.0.0");
  assertEquals(layout(paths), ["current", "releases", `releases/${name}`], "no marker for a pin");
});

Deno.test("installFromNpm() installs the latest version and marks the latest channel", async () => {
  await using registry = await startTestRegistry([release("1.0.0"), release("2.0.0")]);
  registry.setLatest("2.0.0");
  await using home = await tempHome();
  const { paths } = home;
  await installFromNpm(paths, { version: "1.0.0", registry: registry.url });
  const latest = await installFromNpm(paths, { registry: registry.url });
  assertEquals(latest.version, "2.0.0");
  assertEquals(latest.installed, true);
  assertEquals(latest.previousRelease, `1.0.0-${TARGET}`);
  assertEquals(await current(paths), `releases/2.0.0-${TARGET}`);
  assertEquals(
    await Deno.readTextFile(`${paths.standaloneDir}/${AUTO_UPDATE_MARKER}`),
    `2.0.0-${TARGET}`,
    "install.sh's marker, no newline",
  );
  await installFromNpm(paths, { version: "1.0.0", registry: registry.url });
  assert(!layout(paths).includes(AUTO_UPDATE_MARKER), "a pin clears the marker");
});

Deno.test("installFromNpm() is a no-op when that release is already current", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  await installFromNpm(paths, { registry: registry.url });
  const downloads = registry.tarballRequests();
  const again = await installFromNpm(paths, { registry: registry.url });
  assertEquals(again.installed, false);
  assertEquals(again.previousRelease, undefined);
  assertEquals(registry.tarballRequests(), downloads, "nothing downloaded");
});

Deno.test("installFromNpm() reuses a complete release directory, including install.sh's layout", async () => {
  await using registry = await startTestRegistry([release("1.0.0"), release("2.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  // install.sh's legacy layout: the binary at the release root, no bin/.
  const legacy = `${paths.standaloneDir}/releases/1.0.0-${TARGET}`;
  await Deno.mkdir(legacy, { recursive: true });
  await Deno.writeTextFile(`${legacy}/codex`, versionOnlyScript("1.0.0"), { mode: 0o755 });
  await installFromNpm(paths, { version: "2.0.0", registry: registry.url });
  const downloads = registry.tarballRequests();
  const back = await installFromNpm(paths, { version: "1.0.0", registry: registry.url });
  assertEquals(back.installed, true);
  assertEquals(back.previousRelease, `2.0.0-${TARGET}`);
  assertEquals(registry.tarballRequests(), downloads, "reused without a download");
  assertEquals(await current(paths), `releases/1.0.0-${TARGET}`);
});

Deno.test("installFromNpm() replaces an incomplete release directory of the same name", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  const dir = `${paths.standaloneDir}/releases/1.0.0-${TARGET}`;
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/bin/codex`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  const result = await installFromNpm(paths, { registry: registry.url });
  assertEquals(result.installed, true);
  assertEquals(
    (await Deno.readTextFile(`${dir}/bin/codex`)).trim(),
    versionOnlyScript("1.0.0").trim(),
  );
  assertEquals(layout(paths).filter((name) => name.includes("/.")), [], "nothing aside left");
});

Deno.test("installFromNpm() removes what a killed install left behind", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  const root = paths.standaloneDir;
  for (
    const dir of [
      `${root}/.install-dead`,
      `${root}/releases/.staging-dead`,
      `${root}/releases/.staging.x.1`,
    ]
  ) {
    await Deno.mkdir(dir, { recursive: true });
  }
  await Deno.symlink("releases/x", `${root}/.current-dead`);
  await Deno.symlink("releases/x", `${root}/.current.123`);
  await installFromNpm(paths, { registry: registry.url });
  assertEquals(layout(paths), [
    AUTO_UPDATE_MARKER,
    "current",
    "releases",
    `releases/1.0.0-${TARGET}`,
  ]);
});

Deno.test("installFromNpm() fails with INSTALL_FAILED and changes nothing when a step fails", async () => {
  const cases: { why: string; publish?: PublishedVersion; version?: string; pattern: RegExp }[] = [
    {
      why: "bad integrity",
      publish: release("2.0.0", { badIntegrity: true }),
      pattern: /integrity mismatch/,
    },
    {
      why: "truncated body",
      publish: release("2.0.0", { truncate: true }),
      pattern: /integrity mismatch/,
    },
    {
      why: "connection cut",
      publish: release("2.0.0", { cutMidway: true }),
      pattern: /download .* after \d+ bytes/,
    },
    { why: "tarball 500", publish: release("2.0.0", { tarball500: true }), pattern: /HTTP 500/ },
    { why: "not a tarball", publish: release("2.0.0", { notGzip: true }), pattern: /extract/ },
    {
      why: "no bin/codex",
      publish: release("2.0.0", { omitBin: true }),
      pattern: /no vendor\/.*\/bin\/codex/,
    },
    {
      why: "old layout",
      publish: release("2.0.0", { legacyLayout: true }),
      pattern: /older vendor/,
    },
    {
      why: "not executable",
      publish: release("2.0.0", { binMode: 0o644 }),
      pattern: /not executable/,
    },
    {
      why: "wrong version",
      publish: { version: "2.0.0", script: versionOnlyScript("2.0.1") },
      pattern: /--version printed "codex-cli 2\.0\.1", expected codex-cli 2\.0\.0/,
    },
    {
      why: "unknown version",
      version: "7.7.7",
      pattern: /@openai\/codex@7\.7\.7-linux-x64 is not in/,
    },
  ];
  await using registry = await startTestRegistry([release("1.0.0")]);
  for (const { why, publish, version, pattern } of cases) {
    await using home = await tempHome();
    const { paths } = home;
    await installFromNpm(paths, { registry: registry.url });
    const before = layout(paths);
    if (publish) {
      await registry.publish(publish);
      registry.setLatest(publish.version);
    }
    await assertRejects(
      () => installFromNpm(paths, { registry: registry.url, version }),
      isCode("INSTALL_FAILED", pattern),
      why,
    );
    assertEquals(await current(paths), `releases/1.0.0-${TARGET}`, why);
    assertEquals(layout(paths), before, `${why}: nothing left behind`);
    registry.setLatest("1.0.0");
  }
});

Deno.test("installFromNpm() fails with INSTALL_FAILED on a metadata error or timeout", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  registry.failMetadata(true);
  await assertRejects(
    () => installFromNpm(paths, { registry: registry.url }),
    isCode("INSTALL_FAILED", /registry metadata .*: HTTP 500/),
  );
  registry.failMetadata(false);
  registry.delayMetadata(5_000);
  const started = Date.now();
  await assertRejects(
    () => installFromNpm(paths, { registry: registry.url, timeoutMs: 200 }),
    isCode("INSTALL_FAILED", /no answer within 200 ms/),
  );
  assert(Date.now() - started < 3_000, "the timeout bounds the request");
  await assertRejects(
    () => installFromNpm(paths, { registry: "http://127.0.0.1:1/" }),
    isCode("INSTALL_FAILED", /registry metadata http:\/\/127\.0\.0\.1:1\//),
  );
  assertEquals(await current(paths), undefined);
});

Deno.test("installFromNpm() abandons a stalled download", async () => {
  await using registry = await startTestRegistry([release("1.0.0", { delayMs: 10_000 })]);
  await using home = await tempHome();
  const { paths } = home;
  const started = Date.now();
  await assertRejects(
    () => installFromNpm(paths, { registry: registry.url, stallMs: 200 }),
    isCode("INSTALL_FAILED", /stalled for 200 ms/),
  );
  assert(Date.now() - started < 3_000);
  assertEquals(layout(paths), ["releases"]);
});

Deno.test("installFromNpm() reports download progress with the total size", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const calls: [number, number | undefined][] = [];
  await installFromNpm(home.paths, {
    registry: registry.url,
    onProgress: (received, total) => calls.push([received, total]),
  });
  assert(calls.length > 0);
  const [received, total] = calls.at(-1)!;
  assertEquals(received, total);
});

Deno.test("installFromNpm() waits for install.lock held by flock(1), as install.sh holds it", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  await Deno.mkdir(paths.standaloneDir, { recursive: true });
  const lockFile = `${paths.standaloneDir}/install.lock`;
  const hold = async (seconds: string): Promise<Deno.ChildProcess> => {
    const ready = `${paths.codexHome}/held`;
    await Deno.remove(ready).catch(() => {});
    const child = new Deno.Command("flock", {
      args: [lockFile, "sh", "-c", `touch "$1"; sleep ${seconds}`, "sh", ready],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 200 && !(await Deno.stat(ready).then(() => true, () => false)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return child;
  };
  const holder = await hold("2");
  await assertRejects(
    () => installFromNpm(paths, { registry: registry.url, lockTimeoutMs: 300 }),
    isCode("LOCK_TIMEOUT", /install\.lock: another installer holds it/),
  );
  assertEquals(await current(paths), undefined);
  const started = Date.now();
  const result = await installFromNpm(paths, { registry: registry.url, lockTimeoutMs: 10_000 });
  assertEquals(result.installed, true);
  assert(Date.now() - started >= 1_000, "it waited for the holder");
  await holder.status;
});

Deno.test("installFromNpm() honours install.sh's mkdir lock and takes over a stale one", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  const lockDir = `${paths.standaloneDir}/install.lock.d`;
  await Deno.mkdir(lockDir, { recursive: true });
  // A live owner (this test process) holds it: wait, then time out naming it.
  await Deno.writeTextFile(`${lockDir}/pid`, `${Deno.pid}\n`);
  await Deno.writeTextFile(`${lockDir}/started_at`, `${Math.floor(Date.now() / 1000)}\n`);
  await assertRejects(
    () => installFromNpm(paths, { registry: registry.url, lockTimeoutMs: 300 }),
    isCode("LOCK_TIMEOUT", new RegExp(`install\\.lock\\.d: held by pid ${Deno.pid}`)),
  );
  // A dead owner older than install.sh's stale window: taken over.
  const dead = new Deno.Command("true").spawn();
  const deadPid = dead.pid;
  await dead.status;
  await Deno.writeTextFile(`${lockDir}/pid`, `${deadPid}\n`);
  const old = Math.floor((Date.now() - MKDIR_LOCK_STALE_MS - 1_000) / 1000);
  await Deno.writeTextFile(`${lockDir}/started_at`, `${old}\n`);
  const result = await installFromNpm(paths, { registry: registry.url, lockTimeoutMs: 2_000 });
  assertEquals(result.installed, true);
  assert(!layout(paths).includes("install.lock.d"), "released after the install");
});

Deno.test("acquireInstallLock() excludes flock(1) while held and writes install.sh's owner files", async () => {
  await using home = await tempHome();
  const { paths } = home;
  {
    await using _lock = await acquireInstallLock(paths);
    const probe = await new Deno.Command("flock", {
      args: ["-n", `${paths.standaloneDir}/install.lock`, "true"],
    }).output();
    assertEquals(probe.success, false, "flock -n must fail while codexd holds it");
    const pid = await Deno.readTextFile(`${paths.standaloneDir}/install.lock.d/pid`);
    assertEquals(pid.trim(), `${Deno.pid}`);
  }
  const after = await new Deno.Command("flock", {
    args: ["-n", `${paths.standaloneDir}/install.lock`, "true"],
  }).output();
  assertEquals(after.success, true);
  assertEquals(layout(paths), []);
});

Deno.test("installFromNpm() run twice at once downloads once and both succeed", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using home = await tempHome();
  const { paths } = home;
  const results = await Promise.all([
    installFromNpm(paths, { registry: registry.url }),
    installFromNpm(paths, { registry: registry.url }),
  ]);
  assertEquals(results.map((r) => r.installed).sort(), [false, true]);
  assertEquals(registry.tarballRequests(), 1);
  assertEquals(await current(paths), `releases/1.0.0-${TARGET}`);
});

Deno.test("switchCurrent() swaps current atomically: a reader never sees it missing", async () => {
  await using home = await tempHome();
  const { paths } = home;
  for (const name of ["a", "b"]) {
    await Deno.mkdir(`${paths.standaloneDir}/releases/1.0.0-${name}`, { recursive: true });
  }
  assertEquals(await switchCurrent(paths, "1.0.0-a"), undefined);
  // The reader is another process, so it truly runs during the swaps.
  const link = JSON.stringify(`${paths.standaloneDir}/current`);
  const reader = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `let reads = 0, misses = 0; const end = Date.now() + 1500;
       while (Date.now() < end) { try { Deno.readLinkSync(${link}); reads++; } catch { misses++; } }
       console.log(JSON.stringify({ reads, misses }));`,
    ],
    stdout: "piped",
  }).spawn();
  let done = false;
  const output = reader.output().finally(() => done = true);
  let swaps = 0;
  while (!done) {
    const next = swaps % 2 === 0 ? "1.0.0-b" : "1.0.0-a";
    const previous = await switchCurrent(paths, next);
    assertEquals(previous, swaps % 2 === 0 ? "1.0.0-a" : "1.0.0-b");
    swaps++;
  }
  const { reads, misses } = JSON.parse(new TextDecoder().decode((await output).stdout));
  assert(reads > 0 && swaps > 20, `reads ${reads}, swaps ${swaps}`);
  assertEquals(misses, 0);
  assertEquals(layout(paths).filter((name) => name.startsWith(".")), []);
});

Deno.test("switchCurrent() refuses a missing release and moves the latest-channel marker", async () => {
  await using home = await tempHome();
  const { paths } = home;
  for (const name of ["1.0.0-t", "2.0.0-t"]) {
    await Deno.mkdir(`${paths.standaloneDir}/releases/${name}`, { recursive: true });
  }
  await switchCurrent(paths, "2.0.0-t");
  await Deno.writeTextFile(`${paths.standaloneDir}/${AUTO_UPDATE_MARKER}`, "2.0.0-t");
  for (const bad of ["3.0.0-t", "../2.0.0-t", ""]) {
    await assertRejects(() => switchCurrent(paths, bad), isCode("INSTALL_FAILED"), bad);
  }
  assertEquals(await current(paths), "releases/2.0.0-t");
  assertEquals(await switchCurrent(paths, "1.0.0-t"), "2.0.0-t");
  assertEquals(
    await Deno.readTextFile(`${paths.standaloneDir}/${AUTO_UPDATE_MARKER}`),
    "1.0.0-t",
    "a rollback stays on the latest channel",
  );
});
