/**
 * Distribution tests: the one-liner from a remote URL (no local files) and the
 * library example.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, processesOfHome, REPO_ROOT, runCli, serveRepo } from "../support/helpers.ts";

async function runRemote(
  url: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", url, ...args],
    env,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the one-liner runs from a remote URL with no local codexd files", async () => {
  await using h = await fakeHome();
  const server = serveRepo();
  const scratch = await Deno.makeTempDir({ prefix: "codexd-remote-" });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/mod.ts`;
    const env = { CODEX_HOME: h.home, DENO_DIR: `${scratch}/deno-dir`, NO_COLOR: "1" };
    const start = await runRemote(url, ["start"], env, scratch);
    assertEquals(start.code, 0, start.stderr);
    const lines = start.stdout.trim().split("\n");
    assertEquals(lines.length, 1, start.stdout);
    const started = JSON.parse(lines[0]);
    assertEquals(started.status, "started");
    const version = JSON.parse((await runRemote(url, ["version"], env, scratch)).stdout);
    assertEquals(version.appServerVersion, "9.9.9");
    const stop = JSON.parse((await runRemote(url, ["stop"], env, scratch)).stdout);
    assertEquals(stop.status, "stopped");
    assertEquals(processesOfHome(h.home), []);
  } finally {
    await server.shutdown();
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("the library example ensures the daemon runs and reports its version", async () => {
  await using h = await fakeHome({ version: "3.1.4" });
  const run = async (): Promise<Deno.CommandOutput> =>
    await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_ROOT}/examples/ensure_running.ts`, h.home],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const first = await run();
  assertEquals(first.code, 0, new TextDecoder().decode(first.stderr));
  assertMatch(new TextDecoder().decode(first.stdout), /^app-server 3\.1\.4 started as pid \d+\n$/);
  const second = await run();
  assertEquals(new TextDecoder().decode(second.stdout), "app-server 3.1.4 was already running\n");
  await runCli(h.home, ["stop"]);
  await Deno.remove(`${h.home}/packages/standalone/current`);
  const missing = await run();
  assertEquals(missing.code, 10);
  assertMatch(new TextDecoder().decode(missing.stderr), /codexd bootstrap --install/);
});
