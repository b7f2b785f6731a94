/**
 * The bundle step that makes the hot functions eager (`scripts/eager.ts`):
 * the source map is read right, functions are found by their source names,
 * and the rewritten program does exactly what the original did — including
 * a call that runs before the moved function's place in the file.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { decodeVlq, originsByPosition, sourceKey } from "../../scripts/source_map.ts";
import { makeEager } from "../../scripts/eager.ts";
import { BUNDLE_HEADER, hotFunctions, rawBundle } from "../../scripts/bundle.ts";
import { compiledEnds, hotKeys } from "../../scripts/hot_functions.ts";

Deno.test("decodeVlq reads base64-VLQ fields", () => {
  const table: [string, number[]][] = [
    ["A", [0]],
    ["C", [1]],
    ["D", [-1]],
    ["gB", [16]],
    ["2H", [123]],
    ["3H", [-123]],
    ["AAgBC", [0, 0, 16, 1]],
  ];
  for (const [segment, fields] of table) assertEquals(decodeVlq(segment), fields, segment);
});

Deno.test("originsByPosition keeps sources and names across segments and lines", () => {
  const origins = originsByPosition({
    sources: ["a.ts", "b.ts"],
    names: ["first", "second"],
    // line 0: col 0 -> a.ts name 0; col 5 -> a.ts (no name); line 1: col 2 -> b.ts name 1
    mappings: "AAAAA,KAAC;ECCAC",
  });
  assertEquals(origins.get("0:0"), { source: "a.ts", name: "first" });
  assertEquals(origins.get("0:5"), { source: "a.ts" });
  assertEquals(origins.get("1:2"), { source: "b.ts", name: "second" });
});

Deno.test("sourceKey names the project's files by path and a registry's by package", () => {
  const map = "file:///tmp/out/codexd.js.map";
  const table: [string, string][] = [
    ["../../srv/codexd/lib/start.ts", "lib/start.ts"],
    ["http://127.0.0.1:4507/@std/path/1.1.6/posix/join.ts", "@std/path/posix/join.ts"],
    ["https://jsr.io/@cliffy/command/1.0.0/command.ts", "@cliffy/command/command.ts"],
    ["../../elsewhere/x.ts", "/elsewhere/x.ts"],
  ];
  for (const [source, key] of table) assertEquals(sourceKey(source, map, "/srv/codexd"), key);
});

/** Runs a JavaScript file; its stdout. */
async function runJs(file: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("a listed function becomes an eager expression at the top, and the program is unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-eager-" });
  try {
    await Deno.writeTextFile(
      `${dir}/program.ts`,
      [
        "import { loaded } from './lazy.ts';",
        // Called before its declaration: the moved function must be there already.
        "console.log(early(20));",
        "export function early(n: number): string { return hot(n + 1); }",
        "function hot(n: number): string {",
        "  const label = { get name() { return 'hot'; }, show(v: number) { return `${this.name} ${v}`; } };",
        "  return [n].map((m) => m * 2).map(function twice(m) { return label.show(m); }).join();",
        "}",
        "export async function later(...tags: string[]): Promise<string> {",
        // An async arrow: V8 leaves it lazy in parentheses, so it becomes an async function;
        "  const load = async () => (await import('./lazy.ts')).loaded();",
        // unless it reads `arguments` (or `this`), which a function would rebind.
        "  const count = async () => arguments.length + tags.length;",
        "  const self = async () => typeof this;",
        "  return (await load()) + ' ' + loaded() + ' ' + (await count()) + ' ' + (await self());",
        "}",
        "console.log(await later());",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${dir}/lazy.ts`,
      "export const stamp = ['lazy'];\nexport function loaded(): string { return stamp.join(); }\n",
    );
    const raw = await rawBundle({ entry: `${dir}/program.ts`, root: dir, packCliffy: false });
    const keys = raw.candidates.map((c) => c.key);
    for (
      const key of ["program.ts#hot", "program.ts#early", "lazy.ts#loaded", "lazy.ts#init_lazy"]
    ) {
      assert(keys.includes(key), `${key} not among ${keys.join(", ")}`);
    }
    const eager = makeEager(raw.code, raw.candidates, [
      "program.ts#hot",
      "program.ts#later",
      "lazy.ts#init_lazy",
      "program.ts#gone",
    ]);
    assertEquals(eager.missing, ["program.ts#gone"]);
    const name = /function ([\w$]+)\(\w+\)\{let \w+=\{get name/.exec(raw.code)?.[1];
    assert(name, raw.code);
    assert(eager.code.startsWith(`var ${name}=(function ${name}(`), eager.code.slice(0, 120));
    assert(/\(\(\)=>\{/.test(eager.code), "the lazy initialiser is not parenthesised");
    // The callbacks inside a listed function are parenthesised with it; its methods and getters cannot be.
    const moved = eager.code.slice(0, eager.code.indexOf("\n"));
    assertEquals(moved.match(/\.map\(\(/g)?.length, 2, moved);
    assert(/get name\(\)\{/.test(moved) && /show\(\w+\)\{/.test(moved), moved);
    assertEquals(moved.match(/\(async function\(\)\{return \(await /g)?.length, 1, moved);
    assertEquals(moved.match(/\(async\(\)=>arguments\.length/g)?.length, 1, moved);
    assertEquals(moved.match(/\(async\(\)=>typeof this\)/g)?.length, 1, moved);
    await Deno.writeTextFile(`${dir}/before.js`, BUNDLE_HEADER + raw.code);
    await Deno.writeTextFile(`${dir}/after.js`, BUNDLE_HEADER + eager.code);
    const before = await runJs(`${dir}/before.js`);
    assertEquals(before, "hot 42\nlazy lazy 0 undefined\n");
    assertEquals(await runJs(`${dir}/after.js`), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hot functions are read from V8's function events by their end offsets", () => {
  const log = [
    "script-details,7,file:///tmp/x/codexd.js,0,0,",
    "script-details,8,ext:core/00_infra.js,0,0,",
    "function,parse-function,7,100,140,0.01,1,f",
    "function,interpreter,7,100,140,0.01,2,f",
    "function,first-execution,7,200,260,0,3,g",
    "function,interpreter,8,100,150,0.01,4,internal",
    "function,full-parse,7,300,350,0.01,5,h",
  ].join("\n");
  const ends = compiledEnds(log, "file:///tmp/x/codexd.js");
  assertEquals([...ends].sort(), [140, 350]);
  const found = [
    { key: "a.ts#f", kind: "declaration" as const, start: 90, end: 130 },
    { key: "a.ts#g", kind: "declaration" as const, start: 190, end: 250 },
    { key: "b.ts#init_b", kind: "initialiser" as const, start: 295, end: 340 },
  ];
  assertEquals(hotKeys(found, ends, 10), ["a.ts#f", "b.ts#init_b"]);
});

Deno.test("the hot-function list is sorted and free of repeats", async () => {
  const listed = await hotFunctions();
  assert(listed.length > 0, "scripts/hot_functions.json is empty");
  assertEquals(listed, [...new Set(listed)].sort());
});
