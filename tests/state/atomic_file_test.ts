/**
 * The one safe-write helper (`lib/state/atomic_file.ts`): appends never follow a
 * planted symlink and never let a newline through a field, whole files are
 * capped, and — structurally — no file in `lib/` writes a file any other way.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { REPO_ROOT } from "../support/helpers.ts";
import {
  appendLineSafe,
  MAX_STATE_FILE_BYTES,
  openNoFollowSync,
  sanitizeLineText,
  writeFileAtomic,
} from "../../lib/state/atomic_file.ts";
import { CodexdError } from "../../lib/errors.ts";

/** The files allowed to call Deno's raw write APIs: the helper itself. */
const HELPER_FILES = ["lib/state/atomic_file.ts"];

/** Deno calls that write a file, or open one for writing (option names on the same call). */
const RAW_WRITES = [
  /Deno\.(writeTextFile|writeFile|copyFile|truncate|create)(Sync)?\(/,
  /Deno\.open(Sync)?\([^)]*\b(write|append|create|createNew|truncate)\s*:/s,
];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("no file in lib/ writes a file except through the one safe-write helper", () => {
  const offenders: string[] = [];
  for (const path of sourceFiles(`${REPO_ROOT}/lib`)) {
    const relative = path.slice(REPO_ROOT.length + 1);
    if (HELPER_FILES.includes(relative)) continue;
    const text = Deno.readTextFileSync(path);
    for (const pattern of RAW_WRITES) {
      const match = pattern.exec(text);
      if (match) {
        const line = text.slice(0, match.index).split("\n").length;
        offenders.push(`${relative}:${line}: ${match[0].split("\n")[0]}`);
      }
    }
  }
  assertEquals(offenders, [], "write through writeFileAtomic / appendLineSafe / openNoFollowSync");
});

Deno.test("sanitizeLineText() folds newlines and strips control characters", () => {
  const table: [string, string][] = [
    ["plain", "plain"],
    ["a\nb", "a | b"],
    ["a \r\n  b", "a | b"],
    ["x\n* * * * * root /tmp/evil\n", "x | * * * * * root /tmp/evil | "],
    ["tab\there", "tab here"],
    ["\x1b[31mred\x07\x7f\x85", "[31mred"],
  ];
  for (const [input, expected] of table) assertEquals(sanitizeLineText(input), expected, input);
});

Deno.test("appendLineSafe() appends one line to a regular file and never through a symlink", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-safe-write-" });
  try {
    const log = `${dir}/app.log`;
    assert(appendLineSafe(log, "first\nsecond"));
    assertEquals(Deno.readTextFileSync(log), "first | second\n");
    assertEquals((Deno.statSync(log).mode ?? 0) & 0o777, 0o600);

    // A dangling link and a link to an existing file: neither target is touched.
    const target = `${dir}/target`;
    const linked = `${dir}/linked.log`;
    Deno.symlinkSync(target, linked);
    assertEquals(appendLineSafe(linked, "evil"), false);
    assertEquals([...Deno.readDirSync(dir)].some((e) => e.name === "target"), false);
    Deno.writeTextFileSync(target, "keep\n");
    assertEquals(appendLineSafe(linked, "evil"), false);
    assertEquals(Deno.readTextFileSync(target), "keep\n");

    // A symlinked directory is refused too.
    Deno.mkdirSync(`${dir}/real`);
    Deno.symlinkSync(`${dir}/real`, `${dir}/dirlink`);
    assertEquals(appendLineSafe(`${dir}/dirlink/x.log`, "evil"), false);
    assertEquals([...Deno.readDirSync(`${dir}/real`)], []);

    // Lines and files are capped.
    const capped = `${dir}/capped.log`;
    assert(appendLineSafe(capped, "x".repeat(100), { maxLineChars: 10 }));
    assertEquals(Deno.readTextFileSync(capped), `${"x".repeat(10)}\n`);
    assertEquals(appendLineSafe(capped, "more", { maxFileBytes: 5 }), false);
    assertEquals(Deno.readTextFileSync(capped), `${"x".repeat(10)}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openNoFollowSync() refuses a symlink with HOME_UNSAFE; writeFileAtomic() caps the size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-safe-write-" });
  try {
    Deno.symlinkSync(`${dir}/elsewhere`, `${dir}/lock`);
    let refused: unknown;
    try {
      openNoFollowSync(`${dir}/lock`, { label: "daemon lock" }).close();
    } catch (error) {
      refused = error;
    }
    assert(refused instanceof CodexdError && refused.code === "HOME_UNSAFE", String(refused));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["lock"]);

    let tooBig: unknown;
    await writeFileAtomic(`${dir}/big`, "x".repeat(MAX_STATE_FILE_BYTES + 1)).catch((error) =>
      tooBig = error
    );
    assert(tooBig instanceof CodexdError && tooBig.code === "STATE_UNWRITABLE", String(tooBig));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["lock"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
