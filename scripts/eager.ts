/**
 * Makes the bundle's hot functions part of V8's code cache.
 *
 * Deno caches the code V8 compiled while compiling a module, not what it
 * compiles later: a function V8 leaves lazy (every declaration, by default)
 * is parsed and compiled again on every run that calls it. Measured on
 * `codexd version` with a warm cache: ~120 lazy compiles of the bundle's
 * functions, ~3-4 ms of a 31 ms call. V8 compiles a parenthesised function
 * expression eagerly, and Deno then caches it; the whole bundle made eager
 * instead costs as much to load from the cache as it saves (measured).
 *
 * So the build keeps a list of the functions the hot commands run
 * (`scripts/hot_functions.json`, made by `scripts/hot_functions.ts`), named
 * by source file and original name, finds them in the minified bundle
 * through its source map, and rewrites just those:
 * - a top-level `function f(…){…}` becomes `var f=(function f(…){…});`
 *   moved to the top of the file, before any code runs, so it is defined
 *   exactly as early as the hoisted declaration was; the function
 *   expressions and arrows inside it are parenthesised too (V8 then compiles
 *   them with it: the callbacks a hot function passes, ~0.3-0.5 ms of lazy
 *   compiles on `start` of a running server, measured), an `async` arrow
 *   rewritten as the `async function` it equals (V8 leaves a parenthesised
 *   `async` arrow lazy);
 * - a module's lazy initialiser `var init=p(()=>{…})` becomes
 *   `p((()=>{…}))`.
 *
 * @module
 */
// Inline, not in deno.json: an npm entry there costs every run under the checkout ~0.4 ms
// (Deno sets up npm resolution; measured), and only this build step uses it.
// deno-lint-ignore no-import-prefix
import { parse } from "npm:acorn@8.19.0";
import { type Origin, originsByPosition, sourceKey, type SourceMap } from "./source_map.ts";

/** A function of the bundle that can be made eager, and its name in the list. */
export interface Candidate {
  /** `source#name`: `lib/app_server/client.ts#initializeOn`, `cli.ts#init_cli`. */
  key: string;
  /** A top-level declaration, or a module's lazy initialiser. */
  kind: "declaration" | "initialiser";
  /** Offset of the function's text in the bundle. */
  start: number;
  /** Offset just past it (what V8's function events report as the end). */
  end: number;
  /**
   * The edits that make the function expressions and arrows inside a
   * declaration eager (offsets in the bundle); none for an initialiser.
   */
  nested?: Edit[];
}

interface Position {
  line: number;
  column: number;
}

interface Node {
  type: string;
  start: number;
  end: number;
  loc: { start: Position };
  id?: Node & { name: string };
  name?: string;
  declarations?: Node[];
  init?: Node & { arguments?: Node[] };
}

/** Where the bundle and its source map came from, to name sources. */
export interface MapPlace {
  /** URL of the source map file (its relative sources resolve against it). */
  mapUrl: string;
  /** The checkout's root directory. */
  root: string;
}

/** The bundle's functions that can be made eager, named by their sources. */
export function candidates(code: string, map: SourceMap, place: MapPlace): Candidate[] {
  const origins = originsByPosition(map);
  const program = parse(code, {
    ecmaVersion: "latest",
    sourceType: "module",
    locations: true,
    // Grouping parentheses as nodes: `g(x=>1)` is not parenthesised, `(x=>1)` is.
    preserveParens: true,
  }) as unknown as { body: Node[] };
  const originOf = (node: Node): Origin | undefined =>
    origins.get(`${node.loc.start.line - 1}:${node.loc.start.column}`);
  const keyOf = (id: Node & { name?: string }): string | undefined => {
    const origin = originOf(id);
    if (origin === undefined) return undefined;
    return `${sourceKey(origin.source, place.mapUrl, place.root)}#${origin.name ?? id.name}`;
  };
  const found: Candidate[] = [];
  for (const node of program.body) {
    if (node.type === "FunctionDeclaration" && node.id) {
      const key = keyOf(node.id);
      if (key) {
        found.push({
          key,
          kind: "declaration",
          start: node.start,
          end: node.end,
          nested: nestedEdits(code, node),
        });
      }
    }
    if (node.type !== "VariableDeclaration") continue;
    for (const declarator of node.declarations ?? []) {
      const init = declarator.init;
      const arrow = init?.type === "CallExpression" && init.arguments?.length === 1
        ? init.arguments[0]
        : undefined;
      if (arrow?.type !== "ArrowFunctionExpression" || !declarator.id) continue;
      const key = keyOf(declarator.id);
      // esbuild names a module's lazy initialiser `init_<file>`.
      if (key?.includes("#init_")) {
        found.push({ key, kind: "initialiser", start: arrow.start, end: arrow.end });
      }
    }
  }
  return found;
}

/** One text edit of a hot declaration: `[at, to)` becomes `text`. */
export interface Edit {
  at: number;
  to: number;
  text: string;
  /** Where the function it belongs to starts: of two edits at one offset, the outer goes first. */
  owner: number;
}

/**
 * The edits that make V8 compile the function expressions and arrows inside
 * `root` with it: each one parenthesised; an `async` arrow (V8 leaves those
 * lazy even in parentheses, measured) rewritten as the `async function` it
 * is equal to when it uses no `this`, `arguments`, `super` or `new.target`.
 * Methods and accessors cannot be either and stay lazy.
 */
function nestedEdits(code: string, root: Node): Edit[] {
  const edits: Edit[] = [];
  const visit = (node: Node & Record<string, unknown>, parent?: Record<string, unknown>): void => {
    const isFunction = node.type === "ArrowFunctionExpression" ||
      node.type === "FunctionExpression";
    const wrapped = parent?.type === "ParenthesizedExpression";
    const isMethod = parent?.type === "MethodDefinition" ||
      (parent?.type === "Property" && (parent.method === true || parent.kind !== "init"));
    if (isFunction && node !== root && !wrapped && !isMethod) {
      edits.push(...eagerEdits(code, node as unknown as FunctionNode));
    }
    eachChild(node, (child) => visit(child, node));
  };
  visit(root as Node & Record<string, unknown>);
  return edits;
}

interface FunctionNode extends Node {
  async: boolean;
  expression: boolean;
  params: Node[];
  body: Node;
}

function isNode(value: unknown): value is Node & Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === "string";
}

/** Calls `visit` on each child node of `node` (acorn's tree, walked generically). */
function eachChild(
  node: Node & Record<string, unknown>,
  visit: (child: Node & Record<string, unknown>) => void,
): void {
  for (const [field, value] of Object.entries(node)) {
    if (field === "loc") continue;
    for (const child of Array.isArray(value) ? value : [value]) if (isNode(child)) visit(child);
  }
}

/** The edits that make one nested function eager (see {@linkcode nestedEdits}). */
function eagerEdits(code: string, fn: FunctionNode): Edit[] {
  const owner = fn.start;
  if (fn.type === "ArrowFunctionExpression" && fn.async && plainArrow(fn)) {
    const params = fn.params.length === 0
      ? ""
      : code.slice(fn.params[0].start, fn.params[fn.params.length - 1].end);
    return [
      {
        at: fn.start,
        to: fn.body.start,
        text: `(async function(${params})${fn.expression ? "{return " : ""}`,
        owner,
      },
      { at: fn.end, to: fn.end, text: `${fn.expression ? "}" : ""})`, owner },
    ];
  }
  return [
    { at: fn.start, to: fn.start, text: "(", owner },
    { at: fn.end, to: fn.end, text: ")", owner },
  ];
}

/**
 * Whether an arrow means the same as a function expression: nothing in it
 * (arrows inside included, functions inside not: they have their own) reads
 * `this`, `arguments`, `super` or `new.target`, it holds no class (whose
 * heritage and computed keys would read the arrow's), and its parameters
 * hold no function.
 */
function plainArrow(fn: FunctionNode): boolean {
  let plain = true;
  const visit = (node: Node & Record<string, unknown>, inParams: boolean): void => {
    if (!plain) return;
    if (
      node.type === "ThisExpression" || node.type === "Super" || node.type === "MetaProperty" ||
      node.type === "ClassExpression" || node.type === "ClassDeclaration" ||
      (node.type === "Identifier" && node.name === "arguments") ||
      (inParams && /Function/.test(node.type))
    ) {
      plain = false;
      return;
    }
    if (node.type === "FunctionExpression" || node.type === "FunctionDeclaration") return;
    eachChild(node, (child) => visit(child, inParams));
  };
  for (const param of fn.params) visit(param as Node & Record<string, unknown>, true);
  visit(fn.body as Node & Record<string, unknown>, false);
  return plain;
}

/** The rewritten bundle, and which listed keys it found. */
export interface EagerResult {
  code: string;
  /** Listed keys with no function of that name in the bundle (a stale list). */
  missing: string[];
}

/**
 * Rewrites the functions of `code` listed in `hot` (see the module doc).
 * The moved declarations go first: the bundle's header is added after.
 */
export function makeEager(code: string, found: Candidate[], hot: readonly string[]): EagerResult {
  const wanted = new Set(hot);
  const chosen = found.filter((candidate) => wanted.has(candidate.key));
  const seen = new Set(chosen.map((candidate) => candidate.key));
  const moved: string[] = [];
  const edits: { at: number; to: number; text: string }[] = [];
  for (const candidate of chosen) {
    let text = code.slice(candidate.start, candidate.end);
    if (candidate.kind === "declaration") {
      // From the last offset back, each edit keeps the offsets before it valid; at one
      // offset the outer function's edit goes first, so the inner one's text lands before it.
      const nested = [...(candidate.nested ?? [])].sort((a, b) => b.at - a.at || a.owner - b.owner);
      for (const edit of nested) {
        text = text.slice(0, edit.at - candidate.start) + edit.text +
          text.slice(edit.to - candidate.start);
      }
      const name = /^(?:async\s*)?function\s*\*?\s*([\w$]+)/.exec(text)?.[1];
      if (name === undefined) throw new Error(`not a function declaration: ${text.slice(0, 40)}`);
      moved.push(`var ${name}=(${text});`);
      edits.push({ at: candidate.start, to: candidate.end, text: "" });
    } else {
      edits.push({ at: candidate.start, to: candidate.start, text: "(" });
      edits.push({ at: candidate.end, to: candidate.end, text: ")" });
    }
  }
  edits.sort((a, b) => b.at - a.at || b.to - a.to);
  let out = code;
  for (const edit of edits) out = out.slice(0, edit.at) + edit.text + out.slice(edit.to);
  if (moved.length > 0) out = moved.join("") + "\n" + out;
  return { code: out, missing: hot.filter((key) => !seen.has(key)) };
}
