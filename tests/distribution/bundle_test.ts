/**
 * The one-file build (`dist/codexd.js`): it is current with the code, it runs
 * the CLI, a fresh host fetches it in one request, and the updater it starts
 * runs the bundle again (not `mod.ts` beside it, which a bundle has not).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { fakeHome, REPO_ROOT, runCli } from "../support/helpers.ts";
import { bundle } from "../../scripts/bundle.ts";
import { codexdEntry } from "../../lib/updater/loop.ts";

const BUNDLE = `${REPO_ROOT}/dist/codexd.js`;

Deno.test("dist/codexd.js is current: rebuild with `deno task bundle` after changing code", async () => {
  const fresh = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const { missing } = await bundle(fresh);
    assert(
      (await Deno.readTextFile(fresh)) === (await Deno.readTextFile(BUNDLE)),
      "dist/codexd.js is stale: run `deno task bundle`",
    );
    // A renamed hot function would quietly go back to compiling on every call.
    assertEquals(
      missing,
      [],
      "scripts/hot_functions.json names functions the code no longer has: " +
        "run `deno run -A scripts/with_jsr.ts deno run -A scripts/hot_functions.ts`, then `deno task bundle`",
    );
  } finally {
    await Deno.remove(fresh);
  }
});

Deno.test("codexdEntry() runs the bundle again from a bundle, mod.ts otherwise", () => {
  const table: [string, string, { entry: string; reload: string }][] = [
    ["file:///srv/codexd/lib/updater/loop.ts", "file:///srv/codexd/cli.ts", {
      entry: "/srv/codexd/mod.ts",
      reload: "",
    }],
    ["file:///srv/codexd/dist/codexd.js", "file:///srv/codexd/dist/codexd.js", {
      entry: "/srv/codexd/dist/codexd.js",
      reload: "",
    }],
    [
      "https://jsr.io/@codexd/daemon/0.1.0/dist/codexd.js",
      "https://jsr.io/@codexd/daemon/0.1.0/dist/codexd.js",
      {
        entry: "jsr:@codexd/daemon/run",
        reload: "--reload=jsr:@codexd/daemon",
      },
    ],
    ["https://jsr.io/@codexd/daemon/0.1.0/lib/updater/loop.ts", "file:///home/me/script.ts", {
      entry: "jsr:@codexd/daemon",
      reload: "--reload=jsr:@codexd/daemon",
    }],
    ["http://127.0.0.1:8000/dist/codexd.js", "http://127.0.0.1:8000/dist/codexd.js", {
      entry: "http://127.0.0.1:8000/dist/codexd.js",
      reload: "--reload=http://127.0.0.1:8000/dist/codexd.js",
    }],
  ];
  for (const [moduleUrl, mainModule, expected] of table) {
    assertEquals(codexdEntry(moduleUrl, mainModule), expected, moduleUrl);
  }
});

Deno.test("the bundle runs the CLI, and the updater it starts runs the bundle", async () => {
  await using h = await fakeHome();
  const run = async (args: string[]): Promise<Record<string, unknown>> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BUNDLE, ...args],
      env: { CODEX_HOME: h.home },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  assertEquals((await run(["start"])).status, "started");
  const boot = await run(["bootstrap"]);
  assertEquals(boot.status, "bootstrapped");
  const loop = Deno.readTextFileSync(`/proc/${boot.updaterPid}/cmdline`).split("\0");
  assert(loop.includes(BUNDLE), loop.join(" "));
  assertEquals((await runCli(h.home, ["stop", "--all"])).json.status, "stopped");
});

Deno.test("a fresh host fetches the bundle in one request", async () => {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    requests++;
    const path = new URL(req.url).pathname;
    if (path !== "/dist/codexd.js") return new Response("not found", { status: 404 });
    return new Response(await Deno.readFile(BUNDLE), {
      headers: { "content-type": "application/javascript" },
    });
  });
  const denoDir = await Deno.makeTempDir({ prefix: "codexd-denodir-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `http://127.0.0.1:${server.addr.port}/dist/codexd.js`, "--version"],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "0.1.0");
    assertEquals(requests, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
  }
});
