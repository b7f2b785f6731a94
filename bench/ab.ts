/**
 * A/B of bundles on the hot commands, for changes worth a millisecond or
 * less (`deno task bench` compares codexd with the reference, not codexd
 * with itself).
 *
 * Why its own method (measured, README's Benchmark): in a developer's Deno
 * cache two byte-identical bundles under different paths differed by up to
 * 0.66 ms in 150-run medians, and a fixed running order favoured some slots.
 * So every variant runs from a fresh `DENO_DIR` warmed the same way, the
 * order rotates run by run, and each variant is summed up by the median and
 * the interquartile mean (IQM) of its runs, beside Deno's empty program
 * sampled in the same rotation. Identical bundles then agree within ~0.2 ms.
 *
 * Usage: `deno run -A bench/ab.ts [--runs N] [--command start,version] [--rev REV ...] [FILE ...]`
 * — a `--rev` is the `dist/codexd.js` committed at that revision, a FILE
 * any bundle; with no FILE the working tree's bundle is one of them (against
 * `HEAD`'s when no `--rev` is given either). The app-server is the real
 * codex in a throwaway CODEX_HOME, started once.
 *
 * @module
 */
import { killHomeProcesses, REPO_ROOT } from "../tests/support/helpers.ts";
import { layoutRealRelease } from "../tests/support/real_codex.ts";
import { summarize } from "./stats.ts";

interface Options {
  runs: number;
  commands: string[];
  revs: string[];
  files: string[];
}

function parseOptions(args: string[]): Options {
  const options: Options = { runs: 100, commands: ["start", "version"], revs: [], files: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--runs") options.runs = Number(args[++i]);
    else if (arg === "--command") options.commands = args[++i].split(",");
    else if (arg === "--rev") options.revs.push(args[++i]);
    else options.files.push(arg);
  }
  if (!Number.isInteger(options.runs) || options.runs < 4) throw new Error("--runs: 4 or more");
  // The working tree's bundle unless files are named; against HEAD's when nothing is.
  if (options.files.length === 0) {
    if (options.revs.length === 0) options.revs.push("HEAD");
    options.files.push(`${REPO_ROOT}/dist/codexd.js`);
  }
  return options;
}

/** The `i`th rotation of `items`: each item in each slot equally often over `items.length` runs. */
export function rotation<T>(items: T[], i: number): T[] {
  const k = i % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function committedBundle(rev: string, dir: string, index: number): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["show", `${rev}:dist/codexd.js`],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`git show ${rev}: ${new TextDecoder().decode(out.stderr)}`);
  const file = await variantFile(dir, index);
  await Deno.writeFile(file, out.stdout);
  return file;
}

/** Where variant `index` lives: one directory each, the same file name, so only the content differs. */
async function variantFile(dir: string, index: number): Promise<string> {
  await Deno.mkdir(`${dir}/${index}`);
  return `${dir}/${index}/codexd.js`;
}

interface Variant {
  label: string;
  argv: string[];
}

async function timed(argv: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stdout)}`);
  }
  return ms;
}

if (import.meta.main) {
  const options = parseOptions(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "codexd-ab-" });
  const home = `${dir}/home`;
  try {
    const bundles: { label: string; file: string }[] = [];
    for (const rev of options.revs) {
      bundles.push({ label: rev, file: await committedBundle(rev, dir, bundles.length) });
    }
    for (const file of options.files) {
      const copy = await variantFile(dir, bundles.length);
      await Deno.copyFile(file, copy);
      bundles.push({ label: file.replace(`${REPO_ROOT}/`, ""), file: copy });
    }
    await Deno.writeTextFile(`${dir}/empty.js`, "");
    await Deno.mkdir(home);
    await layoutRealRelease(home);
    const env = { CODEX_HOME: home, DENO_DIR: `${dir}/deno`, NO_COLOR: "1" };
    // Outside any checkout's deno.json, as the one-liner runs.
    const deno = [Deno.execPath(), "run", "-A", "--no-config"];
    const variants: Variant[] = [{ label: "empty program", argv: [...deno, `${dir}/empty.js`] }];
    for (const command of options.commands) {
      for (const bundle of bundles) {
        variants.push({
          label: `${bundle.label} ${command}`,
          argv: [...deno, bundle.file, command],
        });
      }
    }
    await timed([...deno, bundles[0].file, "start"], env);
    // Warm: each variant's code cache written once, the same way for all.
    for (let i = 0; i < 2; i++) for (const variant of variants) await timed(variant.argv, env);
    const samples = new Map<string, number[]>(variants.map((v) => [v.label, []]));
    for (let i = 0; i < options.runs; i++) {
      for (const variant of rotation(variants, i)) {
        samples.get(variant.label)!.push(await timed(variant.argv, env));
      }
    }
    const empty = summarize(samples.get("empty program")!);
    console.log(
      `${options.runs} rotated runs each, fresh DENO_DIR, ${Deno.execPath()}\n\n` +
        "| variant | median | IQM | IQM / empty program |\n|---|---|---|---|",
    );
    for (const variant of variants) {
      const { median, iqm } = summarize(samples.get(variant.label)!);
      console.log(
        `| ${variant.label} | ${median.toFixed(2)} ms | ${iqm.toFixed(2)} ms | ${
          (iqm / empty.iqm).toFixed(3)
        }x |`,
      );
    }
  } finally {
    await killHomeProcesses(home);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
