/**
 * The npm installer against a hostile loopback registry: packages with `..`
 * or absolute members, escaping or absolute links, a symlinked or shadowed
 * binary, fifos, setuid bits, decompression bombs; metadata pointing at
 * `file:` URLs or naming `../` versions; bodies that trickle, never end or
 * pause; an interrupt mid-download; leftovers of killed installs and their
 * orphaned mkdir lock. Every refusal is `INSTALL_FAILED` (or `INTERRUPTED`)
 * and leaves the disk as it was.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { TARGET } from "../support/helpers.ts";
import {
  type PublishedVersion,
  startTestRegistry,
  type TarEntry,
  versionOnlyScript,
} from "../fixtures/test_registry.ts";
import {
  acquireInstallLock,
  MKDIR_LOCK_OWNER_FILE,
  mkdirLockIsStale,
} from "../../lib/install/lock.ts";
import { installFromNpm, type NpmInstallOptions } from "../../lib/install/npm.ts";
import { memberProblem, throughSymlink } from "../../lib/install/tar_scan.ts";
import { CodexdError, type ErrorCode } from "../../lib/errors.ts";
import { type DaemonPaths, daemonPaths } from "../../lib/state/paths.ts";

const VENDOR = `package/vendor/${TARGET}`;

function release(
  version: string,
  faults: Omit<PublishedVersion, "version"> = {},
): PublishedVersion {
  return { version, script: versionOnlyScript(version), ...faults };
}

/** A CODEX_HOME inside a scratch directory, so escapes land somewhere checkable. */
async function sandbox(): Promise<{ root: string; paths: DaemonPaths } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "codexd-hostile-" });
  return {
    root,
    paths: daemonPaths(`${root}/home`),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** Every path under `dir`, relative, sorted (the lock file left out). */
function tree(dir: string): string[] {
  const names: string[] = [];
  const walk = (at: string, prefix: string): void => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(at)];
    } catch {
      return; // not there (yet)
    }
    for (const entry of entries) {
      names.push(`${prefix}${entry.name}`);
      if (entry.isDirectory && !entry.isSymlink) {
        walk(`${at}/${entry.name}`, `${prefix}${entry.name}/`);
      }
    }
  };
  walk(dir, "");
  return names.filter((name) => !name.endsWith("install.lock")).sort();
}

function isCode(code: ErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof CodexdError && error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

Deno.test("memberProblem() and throughSymlink() refuse members that leave the package", () => {
  const table: [Partial<{ name: string; type: string; linkname: string }>, RegExp | undefined][] = [
    [{ name: "package/bin/codex" }, undefined],
    [{ name: "package/../x" }, /contains "\.\."/],
    [{ name: "/etc/x" }, /absolute path/],
    [{ name: "package/a", type: "2", linkname: "b/c" }, undefined],
    [{ name: "package/a", type: "2", linkname: "../x" }, undefined],
    [{ name: "package/a", type: "2", linkname: "../../x" }, /leaves the package/],
    [{ name: "package/a", type: "2", linkname: "/etc" }, /absolute/],
    [{ name: "package/a", type: "1", linkname: "package/b" }, undefined],
    [{ name: "package/a", type: "1", linkname: "../b" }, /hardlink .* leaves/],
    [{ name: "package/a", type: "6" }, /tar type "6"/],
    [{ name: "package/a", type: "3" }, /tar type "3"/],
  ];
  for (const [partial, pattern] of table) {
    const problem = memberProblem({ name: "", type: "0", linkname: "", size: 0, ...partial });
    if (pattern === undefined) assertEquals(problem, undefined, JSON.stringify(partial));
    else assertMatch(problem ?? "", pattern);
  }
  assertMatch(
    throughSymlink([
      { name: "package/l", type: "2", linkname: "d", size: 0 },
      { name: "package/./l/x", type: "0", linkname: "", size: 1 },
    ]) ?? "",
    /written through the symlink package\/l/,
  );
});

Deno.test("installFromNpm() refuses hostile packages and leaves the disk as it was", async () => {
  const outside = `/tmp/codexd-escape-${crypto.randomUUID().slice(0, 8)}`;
  const cases: {
    why: string;
    faults: Omit<PublishedVersion, "version">;
    pattern: RegExp;
    options?: NpmInstallOptions;
  }[] = [
    {
      why: "a .. member",
      faults: { extraEntries: [{ name: "package/../../../escaped", content: "x" }] },
      pattern: /contains "\.\."/,
    },
    {
      why: "an absolute member",
      faults: { extraEntries: [{ name: outside, content: "x" }] },
      pattern: /absolute path/,
    },
    {
      why: "a symlink leaving the package",
      faults: {
        extraEntries: [{
          name: `${VENDOR}/etc`,
          type: "symlink",
          linkname: "../../../../../../../etc",
        }],
      },
      pattern: /leaves the package/,
    },
    {
      why: "an absolute symlink",
      faults: {
        extraEntries: [{ name: `${VENDOR}/passwd`, type: "symlink", linkname: "/etc/passwd" }],
      },
      pattern: /absolute/,
    },
    {
      why: "a member written through a symlink",
      faults: {
        extraEntries: [{ name: `${VENDOR}/l`, type: "symlink", linkname: "codex-path" }, {
          name: `${VENDOR}/l/x`,
          content: "x",
        }],
      },
      pattern: /written through the symlink/,
    },
    {
      why: "a hardlink to outside",
      faults: {
        extraEntries: [{ name: `${VENDOR}/h`, type: "hardlink", linkname: "../../../etc/passwd" }],
      },
      pattern: /hardlink .* leaves/,
    },
    {
      why: "a fifo",
      faults: { extraEntries: [{ name: `${VENDOR}/fifo`, type: "fifo" }] },
      pattern: /tar type "6"/,
    },
    {
      why: "bin/codex a symlink",
      faults: { binSymlink: "../codex-path/rg" },
      pattern: /bin\/codex is not a regular file/,
    },
    {
      why: "a top-level codex that is not bin/codex",
      faults: { topCodexScript: versionOnlyScript("2.0.0") },
      pattern: /top-level codex is not the link bin\/codex/,
    },
    {
      why: "a dangling symlink",
      faults: { extraEntries: [{ name: `${VENDOR}/d`, type: "symlink", linkname: "nothere" }] },
      pattern: /dangling symlink/,
    },
    {
      why: "a symlink chain leaving the release",
      faults: {
        extraEntries: [{ name: `${VENDOR}/a`, type: "symlink", linkname: "." }, {
          name: `${VENDOR}/b`,
          type: "symlink",
          linkname: "a/a/a/../../../../..",
        }],
      },
      pattern: /symlink leaving the release/,
    },
    {
      why: "a decompression bomb",
      faults: {
        extraEntries: [{ name: "package/zeros", content: new Uint8Array(3 * 1024 * 1024) }],
      },
      pattern: /unpacks to more than 1048576 bytes/,
      options: { extract: { maxBytes: 1024 * 1024 } },
    },
    {
      why: "too many members",
      faults: {},
      pattern: /more than 5 members/,
      options: { extract: { maxEntries: 5 } },
    },
    {
      why: "a file: tarball URL",
      faults: { tarballUrl: "file:///etc/passwd" },
      pattern: /tarball URL "file:\/\/\/etc\/passwd" is not an http\(s\) URL/,
    },
    {
      why: "a data: tarball URL",
      faults: { tarballUrl: "data:application/octet-stream;base64,AAAA" },
      pattern: /not an http\(s\) URL/,
    },
  ];
  await using registry = await startTestRegistry([release("1.0.0")]);
  for (const [i, { why, faults, pattern, options }] of cases.entries()) {
    await using box = await sandbox();
    const { paths } = box;
    await installFromNpm(paths, { registry: registry.url });
    const before = tree(box.root);
    const version = `2.0.${i}`;
    await registry.publish(release(version, faults));
    await assertRejects(
      () => installFromNpm(paths, { registry: registry.url, version, ...options }),
      isCode("INSTALL_FAILED", pattern),
      why,
    );
    assertEquals(tree(box.root), before, `${why}: nothing left behind, nothing written outside`);
    assertEquals(await Deno.readLink(`${paths.standaloneDir}/current`), `releases/1.0.0-${TARGET}`);
  }
  assertEquals(
    await Deno.stat(outside).then(() => true, () => false),
    false,
    "nothing at the absolute path",
  );
});

Deno.test("installFromNpm() clears setuid and setgid bits from the release", async () => {
  const entries: TarEntry[] = [{
    name: `${VENDOR}/codex-path/helper`,
    content: "#!/bin/sh\n",
    mode: 0o6755,
  }];
  await using registry = await startTestRegistry([
    release("1.0.0", { binMode: 0o4755, extraEntries: entries }),
  ]);
  await using box = await sandbox();
  const result = await installFromNpm(box.paths, { registry: registry.url });
  for (const file of ["bin/codex", "codex-path/helper"]) {
    const mode = (await Deno.stat(`${result.releaseDir}/${file}`)).mode! & 0o7777;
    assertEquals(mode, 0o755, `${file} is ${mode.toString(8)}`);
  }
});

Deno.test("installFromNpm() refuses a registry whose latest is not a version", async () => {
  for (const latest of ["../../x", "$(touch /tmp/codexd-latest)", "1.0.0/../../x"]) {
    await using registry = await startTestRegistry([release("1.0.0")]);
    registry.setLatest(latest);
    await using box = await sandbox();
    await assertRejects(
      () => installFromNpm(box.paths, { registry: registry.url }),
      isCode("INSTALL_FAILED", /not a version/),
      latest,
    );
    assertEquals(tree(box.root), [], latest);
    assertEquals(registry.tarballRequests(), 0);
  }
});

Deno.test("installFromNpm() bounds downloads: throughput, size, Content-Length and deadline", async () => {
  const cases: {
    why: string;
    faults: Omit<PublishedVersion, "version">;
    options: NpmInstallOptions;
    pattern: RegExp;
  }[] = [
    {
      why: "a trickle",
      faults: { trickle: { bytes: 8, intervalMs: 40 } },
      options: { stallMs: 400, minBytesPerWindow: 1024 },
      pattern: /too slow: \d+ bytes in 400 ms/,
    },
    {
      why: "an endless body",
      faults: { endless: true },
      options: { maxBytes: 256 * 1024 },
      pattern: /exceeded the size cap of 262144 bytes/,
    },
    {
      why: "a Content-Length over the cap",
      faults: {},
      options: { maxBytes: 100 },
      pattern: /Content-Length \d+ exceeds the 100-byte cap/,
    },
    {
      why: "a pause past the deadline",
      faults: { pauseMidwayMs: 20_000 },
      options: { deadlineMs: 300, stallMs: 20_000 },
      pattern: /did not finish within 300 ms/,
    },
  ];
  for (const { why, faults, options, pattern } of cases) {
    await using registry = await startTestRegistry([release("1.0.0", faults)]);
    await using box = await sandbox();
    await assertRejects(
      () => installFromNpm(box.paths, { registry: registry.url, ...options }),
      isCode("INSTALL_FAILED", pattern),
      why,
    );
    assertEquals(tree(box.root), [
      "home",
      "home/packages",
      "home/packages/standalone",
      "home/packages/standalone/releases",
    ], why);
  }
});

Deno.test("an aborted signal stops the download with INTERRUPTED, removes its work dir and frees the lock", async () => {
  await using registry = await startTestRegistry([release("1.0.0", { pauseMidwayMs: 30_000 })]);
  await using box = await sandbox();
  const { paths } = box;
  const controller = new AbortController();
  const install = installFromNpm(paths, { registry: registry.url, signal: controller.signal });
  const started = await (async () => {
    for (let i = 0; i < 400; i++) {
      const work = tree(paths.codexHome).find((name) => /\.install-[^/]*\/codex\.tgz$/.test(name));
      if (work && Deno.statSync(`${paths.codexHome}/${work}`).size > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  })();
  assert(started, "the download started");
  controller.abort("SIGINT");
  await assertRejects(() => install, isCode("INTERRUPTED", /interrupted by SIGINT/));
  assertEquals(tree(paths.standaloneDir), ["releases"]);
  await using _lock = await acquireInstallLock(paths, { timeoutMs: 0 });
});

Deno.test("leftovers of a killed install go at the next install, even when the registry is down", async () => {
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using box = await sandbox();
  const root = box.paths.standaloneDir;
  await Deno.mkdir(`${root}/.install-dead/x`, { recursive: true });
  await Deno.mkdir(`${root}/releases/.staging-dead/bin`, { recursive: true });
  registry.failMetadata(true);
  await assertRejects(
    () => installFromNpm(box.paths, { registry: registry.url }),
    isCode("INSTALL_FAILED"),
  );
  assertEquals(tree(root), ["releases"]);
});

Deno.test("a dead codexd's install.lock.d is taken over at once, install.sh's only after its window", async () => {
  assertEquals(
    mkdirLockIsStale({ alive: true, startedAtMs: Date.now(), orphaned: true }, Date.now()),
    true,
  );
  assertEquals(
    mkdirLockIsStale({ alive: false, startedAtMs: Date.now(), orphaned: false }, Date.now()),
    false,
  );
  await using registry = await startTestRegistry([release("1.0.0")]);
  await using box = await sandbox();
  const lockDir = `${box.paths.standaloneDir}/install.lock.d`;
  await Deno.mkdir(lockDir, { recursive: true });
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  await Deno.writeTextFile(`${lockDir}/pid`, `${dead.pid}\n`);
  await Deno.writeTextFile(`${lockDir}/started_at`, `${Math.floor(Date.now() / 1000)}\n`);
  // install.sh's own lock (no owner file): its 10-minute window holds.
  await assertRejects(
    () => installFromNpm(box.paths, { registry: registry.url, lockTimeoutMs: 300 }),
    isCode("LOCK_TIMEOUT"),
  );
  await Deno.writeTextFile(`${lockDir}/${MKDIR_LOCK_OWNER_FILE}`, `codexd@${Deno.hostname()}\n`);
  const result = await installFromNpm(box.paths, { registry: registry.url, lockTimeoutMs: 2_000 });
  assertEquals(result.installed, true);
});
