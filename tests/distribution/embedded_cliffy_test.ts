/**
 * Cliffy carried in the bundle as a string (`scripts/embedded_cliffy.ts`):
 * the loader evaluates it once and hands back its exports, the imports it
 * replaces keep every position after them, and the bundle parses every
 * command line that is not a hot command given alone through it.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { fakeHome, REPO_ROOT } from "../support/helpers.ts";
import { callLoader, loaderSource } from "../../scripts/embedded_cliffy.ts";

const BUNDLE = `${REPO_ROOT}/dist/codexd.js`;

Deno.test("callLoader() replaces each Cliffy import once, at the same length", () => {
  const code =
    'let a=await import("@cliffy/command");let b=(await import("@cliffy/command/completions")).x;';
  const out = callLoader(code);
  assertEquals(out.length, code.length);
  assert(!out.includes("import("), out);
  assertEquals(out.split("__codexdCliffy()").length, 3);
  assertThrows(() => callLoader('import("@cliffy/command")'), Error, "@cliffy/command/completions");
  assertThrows(
    () => callLoader(code + 'import("@cliffy/command")'),
    Error,
    "found 2",
  );
});

Deno.test("the loader evaluates the script once and returns its exports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-loader-" });
  try {
    const cliffy =
      "var n=0;n++;module.exports={Command:class{},count:()=>n,strict:(function(){return this===void 0})()};";
    await Deno.writeTextFile(
      `${dir}/main.js`,
      loaderSource(cliffy) +
        "const [a,b]=await Promise.all([__codexdCliffy(),__codexdCliffy()]);" +
        "console.log(JSON.stringify({same:a===b,count:a.count(),strict:a.strict,command:typeof a.Command}));",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", `${dir}/main.js`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), {
      same: true,
      count: 1,
      strict: true,
      command: "function",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the bundle parses every other command line through the Cliffy it carries", async () => {
  await using h = await fakeHome();
  const run = async (args: string[]): Promise<{ code: number; stdout: string }> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BUNDLE, ...args],
      env: { CODEX_HOME: h.home, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  };
  const table: [string[], number, (stdout: string) => boolean][] = [
    [["--version"], 0, (s) => s.trim() === "0.1.0"],
    [["statsu"], 2, (s) => JSON.parse(s).message.includes('Did you mean command "status"')],
    [["stop", "--grace-seconds", "abc"], 2, (s) => JSON.parse(s).hint === "codexd stop --help"],
    [["stop", "--help"], 0, (s) => s.includes("--grace-seconds") && !s.includes("--codex-bin")],
    [["completions", "bash"], 0, (s) => s.startsWith("#!/usr/bin/env bash")],
    [["status", "--pretty"], 3, (s) => s.includes("stopped")],
    [["logs", "-n", "1"], 0, (s) => JSON.parse(s).status === "ok"],
  ];
  for (const [args, code, check] of table) {
    const out = await run(args);
    assertEquals(out.code, code, `${args.join(" ")}: ${out.stdout}`);
    assert(check(out.stdout), `${args.join(" ")}: ${out.stdout}`);
  }
});
