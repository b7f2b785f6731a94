/**
 * Where one CLI call spends its time, function by function: bundles the CLI
 * unminified, wraps every top-level function with a timer (inclusive time of
 * all its calls; in a fresh process that is mostly the first call, with its
 * lazy compilation and the first use of each Deno op), runs the command
 * against a real app-server in a throwaway CODEX_HOME, and prints medians.
 * Times nest (a caller includes its callees) and async functions include the
 * I/O they await, so read it as a tree, not a sum. `load` is the time from
 * Deno's time origin to the bundle's first statement; `run` is `main()`.
 *
 * Usage: `deno run -A bench/profile.ts [--runs N] [command …]` (default `version`)
 *
 * @module
 */
import {
  isAlive,
  killHomeProcesses,
  MOD_TS,
  processesOfHome,
  REPO_ROOT,
} from "../tests/support/helpers.ts";
import { layoutRealRelease } from "../tests/support/real_codex.ts";

const args = [...Deno.args];
const runsAt = args.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 15;
const COMMAND = args.length ? args : ["version"];

/** Wraps esbuild's top-level functions (`function` and its `}` at column 0) with timers. */
export function instrument(code: string): string {
  const lines = code.split("\n");
  const out = [
    "globalThis.__load = performance.now(); globalThis.__acc = new Map();",
    "globalThis.__T = (name, t0) => { const e = __acc.get(name) ?? [0, 0]; e[0] += performance.now() - t0; e[1]++; __acc.set(name, e); };",
  ];
  for (let i = 0; i < lines.length; i++) {
    const start = /^(?:async )?function (\w+)\(.*\) \{$/.exec(lines[i]);
    const end = start ? lines.indexOf("}", i + 1) : -1;
    if (start === null || end < 0) {
      out.push(lines[i]);
      continue;
    }
    out.push(lines[i], "const __t0 = performance.now(); try {");
    out.push(
      ...lines.slice(i + 1, end),
      `} finally { __T(${JSON.stringify(start[1])}, __t0); }`,
      "}",
    );
    i = end;
  }
  const main = "Deno.exit(await main(Deno.args));";
  const text = out.join("\n");
  if (!text.includes(main)) throw new Error("cli.ts's entry line changed: update bench/profile.ts");
  return text.replace(
    main,
    'const __m = performance.now(); const __code = await main(Deno.args); __T("run", __m); __acc.set("load", [__load, 1]);' +
      "Deno.stderr.writeSync(new TextEncoder().encode('PROFILE ' + JSON.stringify([...__acc]) + '\\n')); Deno.exit(__code);",
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const home = await Deno.makeTempDir({ prefix: "codexd-profile-" });
const bundled = await Deno.makeTempFile({ suffix: ".js" });
try {
  await layoutRealRelease(home);
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", bundled, `${REPO_ROOT}/cli.ts`],
  }).output();
  if (!built.success) throw new Error(new TextDecoder().decode(built.stderr));
  await Deno.writeTextFile(bundled, instrument(await Deno.readTextFile(bundled)));
  const run = async (entry: string, command: string[]): Promise<string> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", entry, ...command],
      env: { CODEX_HOME: home },
      stdout: "null",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stderr);
  };
  await run(MOD_TS, ["start"]);
  const samples = new Map<string, { ms: number[]; calls: number }>();
  for (let i = 0; i < RUNS + 2; i++) {
    const line = (await run(bundled, COMMAND)).split("\n").find((l) => l.startsWith("PROFILE "));
    if (line === undefined) throw new Error(`no profile from ${COMMAND.join(" ")}`);
    if (i < 2) continue; // the first runs fill Deno's code cache
    for (const [name, [ms, calls]] of JSON.parse(line.slice(8)) as [string, [number, number]][]) {
      const entry = samples.get(name) ?? { ms: [], calls };
      entry.ms.push(ms);
      samples.set(name, entry);
    }
  }
  const rows = [...samples].map(([name, { ms, calls }]) => ({ name, ms: median(ms), calls }))
    .sort((a, b) => b.ms - a.ms);
  console.log(`codexd ${COMMAND.join(" ")}: medians of ${RUNS} runs, inclusive ms (calls)`);
  for (const row of rows.slice(0, 40)) {
    console.log(`${row.ms.toFixed(3).padStart(8)}  ${row.name} (${row.calls})`);
  }
  await run(MOD_TS, ["stop"]);
} finally {
  await killHomeProcesses(home);
  if (processesOfHome(home).some(isAlive)) console.error(`warning: processes left in ${home}`);
  await Deno.remove(home, { recursive: true }).catch(() => {});
  await Deno.remove(bundled).catch(() => {});
}
