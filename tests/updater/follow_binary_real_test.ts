/**
 * Out-of-band upgrades with the real codex (0.166.0 → 0.169.0, cached by
 * `tests/support/real_codex.ts`) in the reference's package: a server
 * started from `packages/app-server-daemon/current/bin/codex` (as the
 * reference launches it) and adopted by codexd has no `launched-binary`
 * record; `follow-binary` takes its baseline from the running image
 * (`/proc/PID/exe`), notices the reference switching its `current` to
 * another release, and relaunches from the reference's package — not from
 * codexd's standalone one.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { disposableHome, eventually, runCli, TARGET } from "../support/helpers.ts";
import { ensureRealCodex } from "../support/real_codex.ts";

const OLD = "0.166.0";
const NEW = "0.169.0";

async function copyRelease(version: string, releases: string): Promise<string> {
  const cached = await ensureRealCodex(version);
  const dir = `${releases}/${version}-${TARGET}`;
  const cp = await new Deno.Command("cp", { args: ["-al", cached, dir] }).output();
  assertEquals(cp.code, 0);
  return dir;
}

async function pointAt(link: string, target: string): Promise<void> {
  const temp = `${link}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.symlink(target, temp);
  await Deno.rename(temp, link);
}

Deno.test("a reference-package server, adopted, follows the reference switching its current", async () => {
  await using h = disposableHome(await Deno.makeTempDir({ prefix: "codexd-follow-real-" }));
  const pkg = `${h.home}/packages/app-server-daemon`;
  await Deno.mkdir(`${pkg}/releases`, { recursive: true });
  const old = await copyRelease(OLD, `${pkg}/releases`);
  const next = await copyRelease(NEW, `${pkg}/releases`);
  // The reference's layout: an absolute `current`, the marker naming it (it follows the latest).
  await pointAt(`${pkg}/current`, old);
  await Deno.writeTextFile(`${pkg}/auto-update-version`, `${OLD}-${TARGET}`);

  const child = new Deno.Command(`${pkg}/current/bin/codex`, {
    args: ["app-server", "--listen", "unix://"],
    env: { CODEX_HOME: h.home },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const answering = await eventually(
      async () => (await runCli(h.home, ["version"])).code === 0,
      30_000,
      100,
    );
    assertEquals(answering, true, "the hand-started server answers");
    const adopted = await runCli(h.home, ["adopt"]);
    assertEquals(adopted.json.status, "adopted", adopted.stdout + adopted.stderr);

    const baseline = await runCli(h.home, ["follow-binary"]);
    assertEquals(baseline.json.status, "unchanged", baseline.stdout + baseline.stderr);
    const record = await Deno.readTextFile(`${h.home}/app-server-daemon/launched-binary`);
    assertMatch(record, new RegExp(` ${child.pid} ${OLD} ${pkg}/current/bin/codex\n$`));

    // The reference selects another release in its package.
    await pointAt(`${pkg}/current`, next);
    await Deno.writeTextFile(`${pkg}/auto-update-version`, `${NEW}-${TARGET}`);
    const follow = await runCli(h.home, ["follow-binary"]);
    assertEquals(follow.code, 0, follow.stdout + follow.stderr);
    assertEquals(follow.json.status, "restarted");
    assertEquals([follow.json.fromVersion, follow.json.toVersion], [OLD, NEW]);
    const status = await runCli(h.home, ["status"]);
    assertEquals(status.json.appServerVersion, NEW);
    const exe = await Deno.readLink(`/proc/${status.json.pid}/exe`);
    assertEquals(exe, `${next}/bin/codex`, "relaunched from the reference's package");
    assertEquals(status.json.pin, null, "the reference follows the latest: no pin");
  } finally {
    await runCli(h.home, ["stop", "--all"]);
    try {
      child.kill("SIGKILL");
    } catch {
      // stopped by codexd already
    }
    await child.status;
  }
});
