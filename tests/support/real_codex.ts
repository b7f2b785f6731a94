/**
 * The real codex for end-to-end tests: `@openai/codex@<v>-linux-x64` fetched
 * once with `npm pack` into a cache outside the repository
 * (`$CODEXD_TEST_CACHE`, else `~/.cache/codexd-test`), then laid out in temp
 * CODEX_HOMEs as the standalone install (`releases/<v>-<target>` + `current`)
 * by hard links, so each test home costs no copy.
 *
 * @module
 */
import { disposableHome, TARGET, type TestHome } from "./helpers.ts";

/** The version the happy-path tests run. */
export const REAL_CODEX_VERSION = "0.169.0";

/** Where downloaded releases are cached between runs. */
export function testCacheDir(): string {
  const explicit = Deno.env.get("CODEXD_TEST_CACHE");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  return `${base}/codexd-test`;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Returns the cached release directory of `version`, downloading it on first
 * use. A file lock makes parallel test files share one download.
 */
export async function ensureRealCodex(version = REAL_CODEX_VERSION): Promise<string> {
  const cache = testCacheDir();
  const release = `${cache}/releases/${version}-${TARGET}`;
  await Deno.mkdir(`${cache}/releases`, { recursive: true });
  using lock = await Deno.open(`${cache}/download.lock`, {
    read: true,
    write: true,
    create: true,
  });
  await lock.lock(true);
  try {
    try {
      await Deno.stat(`${release}/bin/codex`);
      return release;
    } catch {
      // not cached yet
    }
    const work = await Deno.makeTempDir({ dir: cache, prefix: ".download-" });
    try {
      const name = (await run("npm", [
        "pack",
        "--silent",
        `@openai/codex@${version}-linux-x64`,
        "--pack-destination",
        work,
      ], work)).trim().split("\n").at(-1);
      await run("tar", ["-xzf", `${work}/${name}`, "-C", work]);
      await Deno.symlink("bin/codex", `${work}/package/vendor/${TARGET}/codex`);
      await Deno.rename(`${work}/package/vendor/${TARGET}`, release);
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
    return release;
  } finally {
    await lock.unlock();
  }
}

/** Lays a cached release into `home` as `releases/<v>-<target>` and points `current` at it. */
export async function layoutRealRelease(home: string, version = REAL_CODEX_VERSION): Promise<void> {
  const cached = await ensureRealCodex(version);
  const releases = `${home}/packages/standalone/releases`;
  await Deno.mkdir(releases, { recursive: true });
  // Hard links: instant, and the test home stays a real standalone layout.
  await run("cp", ["-al", cached, `${releases}/${version}-${TARGET}`]);
  const temp = `${home}/packages/standalone/current.tmp`;
  await Deno.symlink(`releases/${version}-${TARGET}`, temp);
  await Deno.rename(temp, `${home}/packages/standalone/current`);
}

/** A temp CODEX_HOME with the real codex installed in the standalone layout. */
export async function realHome(version = REAL_CODEX_VERSION): Promise<TestHome> {
  const home = await Deno.makeTempDir({ prefix: "codexd-real-" });
  await layoutRealRelease(home, version);
  return disposableHome(home);
}
