/**
 * The parked launch a restart uses: the shell is forked before the old
 * server is gone, and the command runs only once released — never when the
 * CLI gives up or dies.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { eventually } from "../support/helpers.ts";
import { spawnParked, type SpawnSpec } from "../../lib/process/launch.ts";

async function scratch(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "codexd-launch-" });
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** A command that records that it ran, what its stdin is, and what it wrote to stderr. */
function recorder(dir: string): SpawnSpec {
  return {
    command: "/bin/sh",
    args: [
      "-c",
      `readlink /proc/self/fd/0 > "${dir}/stdin"; echo ran > "${dir}/ran"; echo oops >&2`,
    ],
    env: {},
    logFile: `${dir}/log`,
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a parked launch runs its command only once released, stdin on /dev/null, stderr to the log", async () => {
  await using s = await scratch();
  const parked = await spawnParked(recorder(s.dir));
  assert(!exists(`${s.dir}/ran`), "ran before the release");
  await parked.release();
  assertEquals((await parked.exited).code, 0);
  assertEquals(Deno.readTextFileSync(`${s.dir}/ran`), "ran\n");
  assertEquals(Deno.readTextFileSync(`${s.dir}/stdin`), "/dev/null\n");
  assertEquals(Deno.readTextFileSync(`${s.dir}/log`), "oops\n");
});

Deno.test("an abandoned parked launch exits without running its command", async () => {
  await using s = await scratch();
  const parked = await spawnParked(recorder(s.dir));
  await parked.abandon();
  assert(!exists(`${s.dir}/ran`), "the command ran");
});

Deno.test("a parked launch whose CLI dies exits without running its command", async () => {
  await using s = await scratch();
  const script = `
    import { spawnParked } from "${new URL("../../lib/process/launch.ts", import.meta.url).href}";
    const parked = await spawnParked(${JSON.stringify(recorder(s.dir))});
    console.log(parked.pid);
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  assert(pid > 0);
  const gone = (): boolean => {
    try {
      return /\) Z /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
    } catch {
      return true;
    }
  };
  assert(await eventually(gone), "the parked shell is still there");
  assert(!exists(`${s.dir}/ran`), "the command ran");
});
