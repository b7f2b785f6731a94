/**
 * `packages/standalone/current` moves in one place: `switchCurrent()` in
 * lib/install/layout.ts. A structural test keeps every other file from
 * creating or renaming a link named `current`; unit tests pin the swap
 * (the lock it takes or is told is held, what it refuses, the marker that
 * follows it). install_npm_test.ts checks that readers never see the link
 * missing mid-swap.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { REPO_ROOT } from "../support/helpers.ts";
import { AUTO_UPDATE_MARKER, switchCurrent } from "../../lib/install/layout.ts";
import { acquireInstallLock } from "../../lib/install/lock.ts";
import { CodexdError, type ErrorCode } from "../../lib/errors.ts";
import { type DaemonPaths, daemonPaths } from "../../lib/state/paths.ts";

/** The one file allowed to create or rename the `current` link. */
const THE_PLACE = "lib/install/layout.ts";

/** Every TypeScript file of lib/ plus cli.ts, repo-relative, sorted. */
function sourceFiles(dir = "lib"): string[] {
  const files: string[] = dir === "lib" ? ["cli.ts"] : [];
  for (const entry of Deno.readDirSync(`${REPO_ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/** Source without comments, so doc text never counts. */
function code(file: string): string {
  return Deno.readTextFileSync(`${REPO_ROOT}/${file}`)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

/**
 * Whether `text` may move a `current` link: it makes or renames links
 * (Deno's calls or a shell `ln`/`mv`) and names `current` as a path
 * component in a string. Deliberately coarse: a new file that does both
 * must be looked at, not slip through an indirection.
 */
export function mayMoveCurrent(text: string): boolean {
  const moves = /\bDeno\.(rename|symlink|link)(Sync)?\s*\(|\bln\s+-s|\bmv\s+-?/.test(text);
  const namesCurrent = /["'`/]current(["'`/]|-\$|\$)|\.current-/.test(text);
  return moves && namesCurrent;
}

Deno.test("mayMoveCurrent() flags a file that renames or links a path named current", () => {
  const table: [string, boolean][] = [
    ['await Deno.rename(temp, join(dir, "current"));', true],
    ["Deno.symlinkSync(target, `${dir}/current`);", true],
    ["const temp = join(dir, `.current-${id}`); await Deno.symlink(r, temp);", true],
    ['run("ln -sfn releases/x /home/current")', true],
    ["Deno.renameSync(logFile, `${logFile}.1`);", false],
    ['const link = join(dir, "current"); await Deno.readLink(link);', false],
    ["// the current release\nawait Deno.rename(a, b);", false],
  ];
  for (const [text, expected] of table) {
    assertEquals(mayMoveCurrent(text.replace(/^\s*\/\/.*$/gm, "")), expected, text);
  }
});

Deno.test("only lib/install/layout.ts creates or renames the current link", () => {
  const movers = sourceFiles().filter((file) => mayMoveCurrent(code(file)));
  assertEquals(movers, [THE_PLACE], "move `current` with switchCurrent() (lib/install/layout.ts)");
  // The swap's temp name and the rename itself stay inside switchCurrent's helper.
  const layout = code(THE_PLACE);
  assertEquals(layout.match(/\.current-/g)?.length, 1);
  assertEquals(layout.match(/Deno\.rename\([^)]*"current"/g)?.length, 1);
  // Its callers: an install finishing, update skipping a failed release, a rollback.
  const callers = sourceFiles().filter((file) =>
    file !== THE_PLACE && /\bswitchCurrent\s*\(/.test(code(file))
  );
  assert(callers.includes("lib/install/npm.ts"), callers.join(", "));
  assert(callers.includes("lib/updater/release_switch.ts"), callers.join(", "));
});

/** A temp CODEX_HOME with releases `1.0.0-t` and `2.0.0-t`, removed on dispose. */
async function homeWithReleases(): Promise<{ paths: DaemonPaths } & AsyncDisposable> {
  const home = await Deno.makeTempDir({ prefix: "codexd-current-" });
  const paths = daemonPaths(home);
  for (const name of ["1.0.0-t", "2.0.0-t"]) {
    await Deno.mkdir(`${paths.standaloneDir}/releases/${name}`, { recursive: true });
  }
  return { paths, [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }) };
}

function isCode(code: ErrorCode): (error: unknown) => boolean {
  return (error) => error instanceof CodexdError && error.code === code;
}

async function current(paths: DaemonPaths): Promise<string | undefined> {
  return await Deno.readLink(`${paths.standaloneDir}/current`).catch(() => undefined);
}

Deno.test("switchCurrent() points current at a release by a relative link and returns the previous", async () => {
  await using home = await homeWithReleases();
  const { paths } = home;
  assertEquals(await switchCurrent(paths, "1.0.0-t"), undefined);
  assertEquals(await current(paths), "releases/1.0.0-t");
  assertEquals(await switchCurrent(paths, "2.0.0-t"), "1.0.0-t");
  assertEquals(await current(paths), "releases/2.0.0-t");
  // Switching to where it points already is a no-op swap.
  assertEquals(await switchCurrent(paths, "2.0.0-t"), "2.0.0-t");
  const leftovers = [...Deno.readDirSync(paths.standaloneDir)].map((e) => e.name)
    .filter((name) => name.startsWith(".current"));
  assertEquals(leftovers, []);
});

Deno.test("switchCurrent() takes the install lock unless told the caller holds it", async () => {
  await using home = await homeWithReleases();
  const { paths } = home;
  {
    await using _held = await acquireInstallLock(paths, { timeoutMs: 0 });
    // Another holder (here: this test) makes it wait, bounded: LOCK_TIMEOUT, current untouched.
    await assertRejects(
      () => switchCurrent(paths, "1.0.0-t", { lockTimeoutMs: 0 }),
      isCode("LOCK_TIMEOUT"),
    );
    assertEquals(await current(paths), undefined);
    // The holder itself (an install finishing) swaps without taking it again.
    assertEquals(await switchCurrent(paths, "1.0.0-t", { installLockHeld: true }), undefined);
    assertEquals(await current(paths), "releases/1.0.0-t");
  }
  // Released: it takes the lock itself now.
  assertEquals(await switchCurrent(paths, "2.0.0-t", { lockTimeoutMs: 0 }), "1.0.0-t");
});

Deno.test("switchCurrent() refuses names that are not a release directory; the marker follows", async () => {
  await using home = await homeWithReleases();
  const { paths } = home;
  await switchCurrent(paths, "2.0.0-t");
  const marker = `${paths.standaloneDir}/${AUTO_UPDATE_MARKER}`;
  for (const bad of ["3.0.0-t", "../2.0.0-t", "", ".hidden", "2.0.0-t/.."]) {
    await assertRejects(() => switchCurrent(paths, bad), isCode("INSTALL_FAILED"), bad);
  }
  assertEquals(await current(paths), "releases/2.0.0-t");
  // No marker: none is written.
  await switchCurrent(paths, "1.0.0-t");
  await assertRejects(() => Deno.stat(marker), (error) => error instanceof Deno.errors.NotFound);
  // A marker naming the previous release follows (latest channel kept);
  await Deno.writeTextFile(marker, "1.0.0-t");
  assertEquals(await switchCurrent(paths, "2.0.0-t"), "1.0.0-t");
  assertEquals(await Deno.readTextFile(marker), "2.0.0-t");
  // one naming another release (a pin's leftover) is left alone.
  await Deno.writeTextFile(marker, "9.9.9-t");
  await switchCurrent(paths, "1.0.0-t");
  assertEquals(await Deno.readTextFile(marker), "9.9.9-t");
});
