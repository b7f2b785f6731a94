/**
 * The import graph of codexd's own modules, as `scripts/relayout.ts` rewrites
 * it and `tests/structure_test.ts` checks it: where relative specifiers sit in
 * a file's text, how they resolve to repository paths, and the graph of
 * `lib/` at two scales (files, and "rooms": the top-level entries of `lib/`,
 * a folder such as `state/` or a root file such as `start.ts`).
 *
 * Paths are repository-relative with `/` separators (`lib/state/paths.ts`);
 * the repository root is the empty string. Reads files only in
 * {@linkcode libImportGraph}.
 *
 * @module
 */

/** A relative specifier found in a file's text. */
export interface Specifier {
  /** Offset of the specifier's first character (inside the quotes). */
  index: number;
  /** The specifier as written, e.g. `../state/paths.ts`. */
  spec: string;
  /** `import`: static or dynamic import/export; `url`: `new URL("…", base)`. */
  kind: "import" | "url";
  /** On a comment line (`*`, `//`, `/*`): a doc example, not a real import. */
  inComment: boolean;
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(?\s*|\bnew URL\(\s*)(["'])(\.\.?(?:\/[^"'\n$`]*)?)\2/g;

/** Every relative specifier of `import`/`export … from`, `import()` and `new URL()`. */
export function relativeSpecifiers(text: string): Specifier[] {
  const found: Specifier[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const index = match.index + match[1].length + 1;
    const lineStart = text.lastIndexOf("\n", index) + 1;
    const line = text.slice(lineStart, index).trimStart();
    found.push({
      index,
      spec: match[3],
      kind: match[1].startsWith("new") ? "url" : "import",
      inComment: line.startsWith("*") || line.startsWith("//") || line.startsWith("/*"),
    });
  }
  return found;
}

/** The directory of a repository path (`lib/a/b.ts` → `lib/a`, `mod.ts` → ``). */
export function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/**
 * The repository path `spec` names when written in `fromFile`, without a
 * trailing slash; `undefined` when it climbs above the repository.
 */
export function resolveRelative(fromFile: string, spec: string): string | undefined {
  const parts = dirOf(fromFile).split("/").filter((part) => part !== "");
  for (const part of spec.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") parts.push(part);
    else if (parts.pop() === undefined) return undefined;
  }
  return parts.join("/");
}

/** The specifier that names repository path `target` from `fromFile` (`./x.ts`, `../x/`). */
export function specifierFor(fromFile: string, target: string, trailingSlash = false): string {
  const from = dirOf(fromFile).split("/").filter((part) => part !== "");
  const to = target.split("/").filter((part) => part !== "");
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  const up = from.slice(common).map(() => "..");
  const down = to.slice(common);
  let spec = [...up, ...down].join("/");
  if (spec === "") spec = ".";
  if (up.length === 0) spec = spec === "." ? "." : `./${spec}`;
  return trailingSlash && !spec.endsWith("/") ? `${spec}/` : spec;
}

/** The top-level entry of `lib/` a lib-relative path lives in: `state/` or `start.ts`. */
export function roomOf(libPath: string): string {
  const slash = libPath.indexOf("/");
  return slash < 0 ? libPath : libPath.slice(0, slash + 1);
}

function tsFiles(root: string, dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(`${root}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...tsFiles(root, path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/**
 * The file-level graph of `lib/` under repository `root`: lib-relative path →
 * the lib files it imports (static, `export … from`, lazy `import()`; doc
 * examples and `new URL()` excluded), sorted and without repeats.
 */
export function libImportGraph(root: string): Map<string, string[]> {
  const files = tsFiles(root, "lib");
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const found of relativeSpecifiers(Deno.readTextFileSync(`${root}/${file}`))) {
      if (found.kind !== "import" || found.inComment) continue;
      const target = resolveRelative(file, found.spec);
      if (target !== undefined && known.has(target)) targets.add(target.slice("lib/".length));
    }
    graph.set(file.slice("lib/".length), [...targets].sort());
  }
  return graph;
}

/** The room-level graph: room → rooms it imports (arrows inside a room dropped). */
export function roomGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const rooms = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = roomOf(file);
    const set = rooms.get(from) ?? new Set<string>();
    rooms.set(from, set);
    for (const target of targets) if (roomOf(target) !== from) set.add(roomOf(target));
  }
  return new Map([...rooms].map(([room, set]) => [room, [...set].sort()]));
}

/** Strongly connected components with more than one node: the circles. Pure. */
export function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/**
 * The number of floors: the longest chain of arrows, counted in nodes, once
 * each circle is taken as one node. Pure.
 */
export function floors(graph: Map<string, string[]>): number {
  const componentOf = new Map<string, string>();
  for (const component of circles(graph)) {
    for (const member of component) componentOf.set(member, component[0]);
  }
  const id = (node: string): string => componentOf.get(node) ?? node;
  const condensed = new Map<string, Set<string>>();
  for (const [node, targets] of graph) {
    const set = condensed.get(id(node)) ?? new Set<string>();
    condensed.set(id(node), set);
    for (const target of targets) if (id(target) !== id(node)) set.add(id(target));
  }
  const height = new Map<string, number>();
  const heightOf = (node: string): number => {
    const known = height.get(node);
    if (known !== undefined) return known;
    let best = 0;
    for (const next of condensed.get(node) ?? []) best = Math.max(best, heightOf(next));
    height.set(node, best + 1);
    return best + 1;
  };
  let most = 0;
  for (const node of condensed.keys()) most = Math.max(most, heightOf(node));
  return most;
}

/** The figures the layout is judged by. */
export interface LayoutFigures {
  /** Top-level entries of `lib/` (root files + folders). */
  rooms: number;
  /** Distinct file → file import arrows inside `lib/`. */
  fileArrows: number;
  /** Distinct room → room arrows. */
  roomArrows: number;
  /** Floors of the room graph (circles counted as one floor). */
  floors: number;
  /** Circles between rooms. */
  circles: string[][];
}

/** Measures a file-level graph of `lib/` (see {@linkcode libImportGraph}). */
export function measure(graph: Map<string, string[]>): LayoutFigures {
  const rooms = roomGraph(graph);
  let fileArrows = 0;
  for (const targets of graph.values()) fileArrows += targets.length;
  let roomArrows = 0;
  for (const targets of rooms.values()) roomArrows += targets.length;
  return {
    rooms: rooms.size,
    fileArrows,
    roomArrows,
    floors: floors(rooms),
    circles: circles(rooms),
  };
}
