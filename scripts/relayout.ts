/**
 * Moves `lib/` files into folders by layer and feature (issue 23) and
 * rewrites every reference to them, so the move can be re-applied on top of
 * branches merged after it was first made.
 *
 * Run from anywhere inside the repository:
 *
 * ```sh
 * deno run -A scripts/relayout.ts            # move, rewrite, deno fmt, summary
 * deno run -A scripts/relayout.ts --dry-run  # the summary only, nothing touched
 * deno run -A scripts/relayout.ts --measure  # the layout figures only
 * ```
 *
 * What it does, for {@linkcode MOVES} (whole files, old path → new path):
 * 1. `git mv`s each file that exists; a missing one is skipped with a note
 *    (already moved when its new path exists), and one whose new path is
 *    taken as well is refused.
 * 2. In every `.ts`/`.js` file under {@linkcode SCAN_ROOTS}, rewrites each
 *    relative specifier (`import`/`export … from`, `import type`, `import()`,
 *    `new URL("…", import.meta.url)`) that names a moved file, or that sits in
 *    a moved file, so it names the same file from where it now lives. Files
 *    not in the map (new files other branches add) stay where they are; only
 *    their specifiers change. A specifier that names no file is left alone
 *    (a doc example).
 * 3. In comments, a module named by a short path in backticks
 *    (`` `session.ts` ``, `` `idle/policy.ts` ``) follows the move too
 *    ({@linkcode replaceDocNames}).
 * 4. Replaces repository paths as plain text (`lib/updater.ts` →
 *    `lib/updater/loop.ts`) in the same files — string paths in tests, URLs
 *    such as `file:///srv/codexd/lib/updater.ts`, comments — and in every
 *    tracked Markdown, JSON, YAML and shell file ({@linkcode OTHER_TEXT}:
 *    README.md, deno.json, ansible/, .ci/).
 * 5. Runs `deno fmt` on the files it changed (a longer specifier can push a
 *    line past the width).
 *
 * Idempotent: a second run finds every file moved and every specifier
 * pointing at an existing file, and changes nothing. It ends by listing any
 * relative specifier that names no file, so a broken rewrite shows at once.
 *
 * @module
 */
import {
  dirOf,
  libImportGraph,
  measure,
  relativeSpecifiers,
  resolveRelative,
  specifierFor,
} from "./import_graph.ts";

/**
 * Old path → new path, whole files, repository-relative. Why each folder
 * holds what it holds is README's "Layout" section; the order below is the
 * layer order `tests/structure_test.ts` enforces, lowest first.
 */
export const MOVES: Readonly<Record<string, string>> = {
  // state/: what lives under app-server-daemon/ (paths is its index).
  "lib/paths.ts": "lib/state/paths.ts",
  "lib/atomic_file.ts": "lib/state/atomic_file.ts",
  "lib/settings.ts": "lib/state/settings.ts",
  "lib/daemon_lock.ts": "lib/state/daemon_lock.ts",
  "lib/down_marker.ts": "lib/state/down_marker.ts",
  "lib/logs.ts": "lib/state/logs.ts",
  // The updater's log is a state file both idle/ (a pending restart) and
  // updater/ write: in updater/ it would make a circle with idle/.
  "lib/updater_log.ts": "lib/state/updater_log.ts",
  // From branches merged after this map was drawn (skipped where absent):
  // the home's layout and the reference's settings keys are state.
  "lib/home_layout.ts": "lib/state/home_layout.ts",
  "lib/settings_layout.ts": "lib/state/settings_layout.ts",
  "lib/binary_watch.ts": "lib/state/binary_watch.ts",
  "lib/pin.ts": "lib/state/pin.ts",
  // process/: running, identifying and ending OS processes. The pid record is
  // a process's identity (pid, start time, boot), which terminate checks
  // before it signals: here rather than in server/, or process/ would import
  // server/.
  "lib/launch.ts": "lib/process/launch.ts",
  "lib/terminate.ts": "lib/process/terminate.ts",
  "lib/process_identity.ts": "lib/process/process_identity.ts",
  "lib/pid_record.ts": "lib/process/pid_record.ts",
  "lib/bounded_command.ts": "lib/process/bounded_command.ts",
  "lib/interrupt.ts": "lib/process/interrupt.ts",
  "lib/linger.ts": "lib/process/linger.ts",
  // app_server/: talking to a running app-server.
  "lib/control_socket.ts": "lib/app_server/probe.ts",
  "lib/remote_control/protocol.ts": "lib/app_server/remote_control.ts",
  // server/: running one app-server. The context (paths, settings, binary,
  // lock, probe) and its preflight go here: spawn and result take a context,
  // and the context locates the managed binary, so at the root it would make
  // a circle with server/.
  "lib/app_server_spawn.ts": "lib/server/spawn.ts",
  "lib/managed_binary.ts": "lib/server/managed_binary.ts",
  "lib/server_record.ts": "lib/server/server_record.ts",
  "lib/socket_owner.ts": "lib/server/socket_owner.ts",
  "lib/result.ts": "lib/server/result.ts",
  "lib/context.ts": "lib/server/context.ts",
  "lib/preflight.ts": "lib/server/preflight.ts",
  // From branches merged later (skipped where absent).
  "lib/server_log.ts": "lib/server/log.ts",
  "lib/hand_started.ts": "lib/server/hand_started.ts",
  // updater/: the loop (and its self-refresh), supervision, its state and
  // report, release switching, applying a pending restart.
  "lib/updater.ts": "lib/updater/loop.ts",
  "lib/supervise.ts": "lib/updater/supervise.ts",
  "lib/updater_state.ts": "lib/updater/state.ts",
  "lib/update_report.ts": "lib/updater/update_report.ts",
  "lib/release_switch.ts": "lib/updater/release_switch.ts",
  "lib/idle/apply_pending.ts": "lib/updater/apply_pending.ts",
  // The restart an update defers until the app-server is idle, and (from a
  // branch merged later) what applies it: they start the updater loop, so in
  // idle/ they would make a circle with updater/.
  "lib/idle/deferred_restart.ts": "lib/updater/deferred_restart.ts",
  "lib/idle/applier.ts": "lib/updater/applier.ts",
  // The root holds the commands: the autostart commands come up from
  // autostart/, which keeps the unit, launchd and systemd helpers.
  "lib/autostart/command.ts": "lib/autostart.ts",
  "lib/autostart/service.ts": "lib/autostart_service.ts",
};

/** Where the script looks for `.ts`/`.js` files to rewrite (`dist/` is generated). */
export const SCAN_ROOTS: readonly string[] = [
  "lib",
  "tests",
  "bench",
  "examples",
  "scripts",
  "cli.ts",
  "mod.ts",
];

/** Other tracked files whose written-out `lib/` paths follow the move (`git ls-files` patterns). */
export const OTHER_TEXT: readonly string[] = [
  "*.md",
  "*.json",
  "*.jsonc",
  "*.yml",
  "*.yaml",
  "*.py",
  "*.sh",
  ".ci/*",
];

/** This script, which names every old path on purpose. */
const SELF = "scripts/relayout.ts";

/** One file's new text and what changed in it. */
export interface Rewrite {
  text: string;
  specifiers: number;
  mentions: number;
}

/**
 * Rewrites one file's text, the file moving from `file` to `newFile`.
 * `moves` maps old → new paths that hold after the run; `known(path)` says
 * whether a repository path names a file or folder before the run. Pure.
 */
export function rewriteText(
  text: string,
  paths: { file: string; newFile: string },
  moves: ReadonlyMap<string, string>,
  known: (path: string) => boolean,
): Rewrite {
  const { file, newFile } = paths;
  let out = "";
  let last = 0;
  let specifiers = 0;
  for (const found of relativeSpecifiers(text)) {
    const target = resolveRelative(file, found.spec);
    if (target === undefined) continue;
    const moved = moves.get(target);
    if (moved === undefined && file === newFile) continue;
    if (moved === undefined && !known(target)) continue;
    const spec = specifierFor(newFile, moved ?? target, found.spec.endsWith("/"));
    if (spec === found.spec) continue;
    out += text.slice(last, found.index) + spec;
    last = found.index + found.spec.length;
    specifiers++;
  }
  const docs = replaceDocNames(out + text.slice(last), paths, moves, known);
  const replaced = replaceMentions(docs.text, moves);
  return { text: replaced.text, specifiers, mentions: docs.count + replaced.count };
}

/**
 * Follows the move in comments that name a module by a short path in
 * backticks (`` `client.ts` ``, `` `idle/policy.ts` ``): the name is read as
 * a sibling of the file, else relative to `lib/`; when the file or the named
 * module moves, it is written again as a sibling's bare name or a
 * `lib/`-relative path. Full `lib/…` paths are left to
 * {@linkcode replaceMentions}. Pure.
 */
export function replaceDocNames(
  text: string,
  paths: { file: string; newFile: string },
  moves: ReadonlyMap<string, string>,
  known: (path: string) => boolean,
): { text: string; count: number } {
  const { file, newFile } = paths;
  let count = 0;
  const lines = text.split("\n").map((line) => {
    const trimmed = line.trimStart();
    if (!trimmed.startsWith("*") && !trimmed.startsWith("//")) return line;
    return line.replace(/`([\w-]+(?:\/[\w-]+)*\.ts)`/g, (whole, name: string) => {
      if (name.startsWith("lib/")) return whole;
      const sibling = dirOf(file) === "" ? name : `${dirOf(file)}/${name}`;
      const target = [sibling, `lib/${name}`].find((path) => moves.has(path) || known(path));
      if (target === undefined) return whole;
      const moved = moves.get(target);
      if (moved === undefined && file === newFile) return whole;
      const now = moved ?? target;
      const written = dirOf(now) === dirOf(newFile)
        ? now.slice(now.lastIndexOf("/") + 1)
        : now.startsWith("lib/")
        ? now.slice("lib/".length)
        : now;
      if (written === name) return whole;
      count++;
      return `\`${written}\``;
    });
  });
  return { text: lines.join("\n"), count };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replaces repository paths written out in full (`lib/x.ts`) as plain text. Pure. */
export function replaceMentions(
  text: string,
  moves: ReadonlyMap<string, string>,
): { text: string; count: number } {
  let count = 0;
  for (const [from, to] of moves) {
    const pattern = new RegExp(`(?<![\\w.-])${escape(from)}(?![\\w])`, "g");
    text = text.replace(pattern, () => {
      count++;
      return to;
    });
  }
  return { text, count };
}

function git(root: string, args: string[]): string {
  const out = new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function kindOf(path: string): "file" | "dir" | undefined {
  try {
    const info = Deno.statSync(path);
    return info.isDirectory ? "dir" : "file";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function scanFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(`${root}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (/\.(ts|js|mjs)$/.test(entry.name)) files.push(path);
    }
  };
  for (const start of SCAN_ROOTS) {
    const kind = kindOf(`${root}/${start}`);
    if (kind === "dir") walk(start);
    else if (kind === "file") files.push(start);
  }
  return files.sort();
}

function printFigures(root: string, label: string): void {
  const figures = measure(libImportGraph(root));
  console.log(
    `${label}: ${figures.rooms} rooms in lib/, ${figures.fileArrows} file arrows, ` +
      `${figures.roomArrows} room arrows, ${figures.floors} floors, ` +
      `${figures.circles.length} circle(s) between rooms`,
  );
  for (const circle of figures.circles) console.log(`  circle: {${circle.join(", ")}}`);
}

/** Runs the relayout on the repository at `root`. */
export function relayout(root: string, dryRun: boolean): void {
  const notes: string[] = [];
  const moves = new Map<string, string>();
  for (const [from, to] of Object.entries(MOVES)) {
    const fromKind = kindOf(`${root}/${from}`);
    const toKind = kindOf(`${root}/${to}`);
    if (fromKind === "file" && toKind !== undefined) {
      notes.push(`refused: ${from} → ${to}: both exist; move or merge by hand`);
    } else if (fromKind === "file") moves.set(from, to);
    else if (toKind === "file") notes.push(`already moved: ${from} → ${to}`);
    else notes.push(`missing, skipped: ${from}`);
  }
  // Stale specifiers to an already moved file are rewritten too (a branch
  // merged after the move may still import the old path).
  const targets = new Map<string, string>(moves);
  for (const [from, to] of Object.entries(MOVES)) {
    if (!moves.has(from) && kindOf(`${root}/${from}`) === undefined && kindOf(`${root}/${to}`)) {
      targets.set(from, to);
    }
  }
  const known = (path: string): boolean => kindOf(`${root}/${path}`) !== undefined;
  const writes = new Map<string, string>();
  let specifiers = 0;
  let mentions = 0;
  for (const file of scanFiles(root)) {
    if (file === SELF) continue; // its map would be rewritten into a no-op
    const text = Deno.readTextFileSync(`${root}/${file}`);
    const newFile = moves.get(file) ?? file;
    const result = rewriteText(text, { file, newFile }, targets, known);
    specifiers += result.specifiers;
    mentions += result.mentions;
    if (result.text !== text) writes.set(newFile, result.text);
  }
  const others = git(root, ["ls-files", ...OTHER_TEXT]).split("\n")
    .filter((path) => path !== "" && !path.startsWith("dist/"));
  for (const file of others) {
    const text = Deno.readTextFileSync(`${root}/${file}`);
    const result = replaceMentions(text, targets);
    mentions += result.count;
    if (result.text !== text) writes.set(file, result.text);
  }

  if (!dryRun) {
    for (const [from, to] of moves) {
      Deno.mkdirSync(`${root}/${dirOf(to)}`, { recursive: true });
      git(root, ["mv", from, to]);
    }
    for (const [file, text] of writes) Deno.writeTextFileSync(`${root}/${file}`, text);
    const formatted = [...writes.keys()].filter((file) => /\.(ts|js|mjs|md)$/.test(file));
    if (formatted.length > 0) {
      const fmt = new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", ...formatted],
        cwd: root,
      }).outputSync();
      if (!fmt.success) notes.push("deno fmt failed on the rewritten files: run it by hand");
    }
  }

  const verb = dryRun ? "would move" : "moved";
  console.log(`${verb} ${moves.size} file(s):`);
  for (const [from, to] of moves) console.log(`  ${from} → ${to}`);
  for (const note of notes) console.log(`note: ${note}`);
  console.log(
    `${dryRun ? "would rewrite" : "rewrote"} ${specifiers} specifier(s) and ` +
      `${mentions} path mention(s) in ${writes.size} file(s)`,
  );
  if (dryRun) return;
  const broken: string[] = [];
  for (const file of scanFiles(root)) {
    const text = Deno.readTextFileSync(`${root}/${file}`);
    for (const found of relativeSpecifiers(text)) {
      if (found.inComment) continue;
      const target = resolveRelative(file, found.spec);
      if (target !== undefined && !known(target)) broken.push(`${file}: "${found.spec}"`);
    }
  }
  for (const line of broken) console.log(`unresolved: ${line}`);
  printFigures(root, "now");
}

if (import.meta.main) {
  const root = git(dirOf(new URL(import.meta.url).pathname), ["rev-parse", "--show-toplevel"])
    .trim();
  if (Deno.args.includes("--measure")) printFigures(root, "layout");
  else relayout(root, Deno.args.includes("--dry-run"));
}
