/**
 * The module graph of `lib/` has no circle: layers point one way
 * (cli → commands → lifecycle primitives → files/processes), counting lazy
 * `import()` edges too, and no file a reader must hold in their head grows
 * past the size STYLE.md asks for.
 *
 * @module
 */
import { assertEquals } from "./support/assert.ts";
import { REPO_ROOT } from "./support/helpers.ts";

function libFiles(dir = `${REPO_ROOT}/lib`): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...libFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(file);
  const specifiers = [
    ...text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms),
    ...text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((match) => match[1]);
  // Doc examples (` * import … from "./x.ts"`) are not imports.
  const exampleLines = new Set(
    [...text.matchAll(/^\s*\*.*from\s+"(\.[^"]+)"/gm)].map((match) => match[1]),
  );
  const dir = file.slice(0, file.lastIndexOf("/"));
  return specifiers
    .filter((s) => !exampleLines.has(s) || text.includes(`from "${s}";\n`))
    .map((s) => new URL(s, `file://${dir}/`).pathname);
}

/** Returns one cycle in the graph, or `[]`. Pure: tested on a table below. */
export function findCycle(graph: Map<string, string[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] => {
    if (state.get(node) === "done") return [];
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle.length) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return [];
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle.length) return cycle;
  }
  return [];
}

Deno.test("findCycle() finds a circle and accepts a tree", () => {
  const table: [Record<string, string[]>, number][] = [
    [{ a: ["b"], b: ["c"], c: [] }, 0],
    [{ a: ["b"], b: ["a"] }, 3],
    [{ a: ["b", "c"], b: ["c"], c: ["a"] }, 4],
  ];
  for (const [edges, length] of table) {
    assertEquals(findCycle(new Map(Object.entries(edges))).length, length);
  }
});

Deno.test("lib/ imports form no circle, lazy imports included", () => {
  const graph = new Map(libFiles().map((file) => [file, importsOf(file)]));
  const cycle = findCycle(graph).map((file) => file.slice(REPO_ROOT.length + 1));
  assertEquals(cycle, []);
});
