/**
 * The shape of `lib/`, as README's "Layout" section states it:
 * - no circle between files, lazy `import()` edges included;
 * - no circle between rooms (the top-level entries of `lib/`: a folder such
 *   as `state/`, or a root file such as `start.ts`);
 * - a declared layer order ({@linkcode LAYERS}) in which a lower room never
 *   imports a higher one, the arrows that still run back up listed one by
 *   one ({@linkcode UPWARD_TODO}) so the list can only shrink;
 * - a file a reader must hold in their head stays within
 *   {@linkcode MAX_LIB_LINES} lines (STYLE.md asks for ~250), today's larger
 *   files listed with the size they may not outgrow.
 *
 * The graph code is `scripts/import_graph.ts`, which `scripts/relayout.ts`
 * shares.
 *
 * @module
 */
import { assert, assertEquals } from "./support/assert.ts";
import { REPO_ROOT } from "./support/helpers.ts";
import { circles, libImportGraph, roomOf } from "../scripts/import_graph.ts";

/**
 * The layers of `lib/`, lowest first: a room may import rooms of its own
 * layer or below, never above. A root file not listed is a command (the top
 * layer); a folder not listed fails the test until it is given a layer.
 */
const LAYERS: readonly (readonly string[])[] = [
  // Ground: import nothing of lib/.
  ["errors.ts", "clock.ts", "expiry.ts", "version.ts", "versions.ts"],
  // What lives under app-server-daemon/: paths, atomic files, settings, lock, down, logs.
  ["state/"],
  // OS processes: launch, terminate (stop's SIGKILL), identity, pid record, bounded commands.
  ["process/"],
  // Talking to a running app-server: client, websocket, probe, protocol types.
  ["app_server/"],
  // Running one app-server: spawn, records, socket owner, managed binary, context, result.
  ["server/"],
  // Features over one server.
  ["idle/", "install/", "autostart/", "remote_control/", "updater/"],
  // The command line's flags and rendering, and the commands at the root of lib/.
  ["cli/"],
];

/**
 * File arrows that run from a lower room to a higher one, each to be
 * removed. Empty since the shared lifecycle steps left the command files
 * (`server/lifecycle.ts`, `server/locked_home.ts`, `updater/ensure.ts`):
 * keep it so — a new entry needs a reason and an issue.
 */
const UPWARD_TODO: readonly string[] = [];

/** The line limit of a `lib/` file (STYLE.md: "under ~250 lines"). */
const MAX_LIB_LINES = 300;

/**
 * Files over {@linkcode MAX_LIB_LINES} today, each with the size it may not
 * outgrow. TODO(issue 23): split them and remove them from this list.
 */
const LARGER_FILES: Readonly<Record<string, number>> = {
  "app_server/client.ts": 404,
  "autostart.ts": 330,
  "updater/follow_binary.ts": 322,
  "idle/gate.ts": 357,
  "server/managed_binary.ts": 339,
  "server/spawn.ts": 316,
  "state/atomic_file.ts": 321,
  "state/settings.ts": 464,
  "updater/loop.ts": 334,
};

/** The layer of a room: its index in {@linkcode LAYERS}; root files default to the top. */
function layerOf(room: string): number | undefined {
  const index = LAYERS.findIndex((layer) => layer.includes(room));
  if (index >= 0) return index;
  return room.endsWith("/") ? undefined : LAYERS.length;
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

Deno.test("circles() names each circle once and accepts a tree", () => {
  const table: [Record<string, string[]>, string[][]][] = [
    [{ a: ["b"], b: ["c"], c: [] }, []],
    [{ a: ["b"], b: ["a"], c: ["a"] }, [["a", "b"]]],
    [{ a: ["b"], b: ["c"], c: ["a", "d"], d: ["e"], e: ["d"] }, [["d", "e"], ["a", "b", "c"]]],
  ];
  for (const [edges, expected] of table) {
    assertEquals(circles(new Map(Object.entries(edges))), expected);
  }
});

Deno.test("lib/ imports form no circle, lazy imports included", () => {
  const cycle = findCycle(libImportGraph(REPO_ROOT));
  assertEquals(cycle, []);
});

Deno.test("every folder of lib/ has a layer", () => {
  const rooms = new Set([...libImportGraph(REPO_ROOT).keys()].map(roomOf));
  const missing = [...rooms].filter((room) => layerOf(room) === undefined);
  assertEquals(missing, [], "give each folder a place in LAYERS");
});

Deno.test("no room of lib/ imports a room above it, but for the listed exceptions", () => {
  const upward: string[] = [];
  for (const [file, targets] of libImportGraph(REPO_ROOT)) {
    const from = layerOf(roomOf(file)) ?? LAYERS.length;
    for (const target of targets) {
      if ((layerOf(roomOf(target)) ?? LAYERS.length) > from) upward.push(`${file} -> ${target}`);
    }
  }
  assertEquals(upward.sort(), [...UPWARD_TODO].sort());
});

Deno.test("the rooms of lib/ form no circle once the listed exceptions are set aside", () => {
  const excepted = new Set(UPWARD_TODO);
  const rooms = new Map<string, string[]>();
  for (const [file, targets] of libImportGraph(REPO_ROOT)) {
    const from = roomOf(file);
    const next = rooms.get(from) ?? [];
    rooms.set(from, next);
    for (const target of targets) {
      const to = roomOf(target);
      if (to !== from && !excepted.has(`${file} -> ${target}`) && !next.includes(to)) next.push(to);
    }
  }
  assertEquals(circles(rooms), []);
});

Deno.test(`lib/ files stay within ${MAX_LIB_LINES} lines, but for the listed larger ones`, () => {
  const files = [...libImportGraph(REPO_ROOT).keys()];
  const tooLong: string[] = [];
  for (const file of files) {
    const text = Deno.readTextFileSync(`${REPO_ROOT}/lib/${file}`);
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    const limit = LARGER_FILES[file] ?? MAX_LIB_LINES;
    if (lines > limit) tooLong.push(`lib/${file}: ${lines} lines, limit ${limit}`);
    if (file in LARGER_FILES) {
      assert(
        lines > MAX_LIB_LINES,
        `lib/${file} is back under the limit: drop it from LARGER_FILES`,
      );
    }
  }
  assertEquals(tooLong, []);
  for (const file of Object.keys(LARGER_FILES)) {
    assert(files.includes(file), `LARGER_FILES names a missing lib/${file}`);
  }
});
