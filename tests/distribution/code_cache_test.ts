/**
 * Every client call after the first loads the bundle from V8's code cache.
 *
 * Deno writes a module's code cache only when the process ends by itself:
 * `Deno.exit` skips the write. codexd's CLI once ended every call that way,
 * so no call ever found a cache and each compiled the whole bundle again
 * (measured: `version` 40 ms instead of 29). The hot commands given alone
 * now end by themselves, which is safe only because nothing of theirs stays
 * armed once they return — the second test holds them to that.
 *
 * No timing assertion: the cache is read from Deno's own database, and a
 * command left running is one still alive a generous minute after its line.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../support/assert.ts";
import { fakeHome, REPO_ROOT } from "../support/helpers.ts";

const BUNDLE = `${REPO_ROOT}/dist/codexd.js`;

/** Far longer than any honest exit, far shorter than the bounds armed below. */
const EXIT_WITHIN_MS = 60_000;

/** The modules Deno keeps compiled code for in `denoDir`. */
function cachedModules(denoDir: string): string[] {
  const file = `${denoDir}/v8_code_cache_v2`;
  try {
    Deno.statSync(file);
  } catch {
    return [];
  }
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare("SELECT specifier FROM codecache").all().map((row) => String(row.specifier));
  } finally {
    db.close();
  }
}

Deno.test("a call through the one-liner's URL leaves the bundle in Deno's code cache for the next", async () => {
  await using h = await fakeHome();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async () =>
      new Response(await Deno.readFile(BUNDLE), {
        headers: { "content-type": "application/javascript" },
      }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/dist/codexd.js`;
  const denoDir = await Deno.makeTempDir({ prefix: "codexd-denodir-" });
  try {
    for (const command of ["status", "version"]) {
      // A stopped home: `status` exits 3 and `version` fails NOT_RUNNING, and both end by themselves.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", url, command],
        env: { CODEX_HOME: h.home, DENO_DIR: denoDir, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert([1, 3].includes(out.code), new TextDecoder().decode(out.stderr));
      assert(
        cachedModules(denoDir).includes(url),
        `after \`${command}\`, Deno's code cache holds no entry for ${url}`,
      );
    }
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
  }
});

/**
 * Runs the bundle with `args` on `home`: its one stdout line, and whether
 * the process ended within {@linkcode EXIT_WITHIN_MS} of printing it.
 */
async function runToEnd(
  home: string,
  args: string[],
): Promise<{ output: Record<string, unknown>; ended: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUNDLE, ...args],
    // Every bound codexd arms, far beyond EXIT_WITHIN_MS: one left armed shows.
    env: { CODEX_HOME: home, CODEXD_COMMAND_TIMEOUT_MS: "120000", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const ended = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), EXIT_WITHIN_MS)),
    ]);
    return { output: JSON.parse(text), ended };
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
  }
}

Deno.test("each hot command ends by itself once it printed its line, in every state", async () => {
  await using h = await fakeHome();
  const steps: [string, string][] = [
    ["status", "stopped"],
    ["version", "error"],
    ["start", "started"],
    ["start", "alreadyRunning"],
    ["version", "running"],
    ["status", "running"],
    ["restart", "restarted"],
    ["stop", "stopped"],
    ["stop", "notRunning"],
  ];
  for (const [command, status] of steps) {
    const { output, ended } = await runToEnd(h.home, [command]);
    assertEquals(output.status, status, `${command}: ${JSON.stringify(output)}`);
    assert(ended, `\`${command}\` was still alive ${EXIT_WITHIN_MS} ms after its line`);
  }
});
