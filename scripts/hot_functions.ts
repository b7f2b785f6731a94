/**
 * Writes `scripts/hot_functions.json`: the bundle's functions that the
 * calls every client makes (`start`, `version` and `status` of a running
 * app-server) run, named `source#name`, for `bundle.ts` to make eager (see
 * `eager.ts` for why).
 *
 * It builds the bundle without that step, runs each command against a real
 * app-server in a throwaway CODEX_HOME with V8's function events logged, and
 * keeps the candidates V8 compiled lazily. Rerun it when `deno task bundle`
 * warns that listed functions are gone, or after reshaping a hot path; then
 * `deno task bundle`.
 *
 * Usage: `deno run -A scripts/hot_functions.ts` (through `scripts/with_jsr.ts` offline)
 *
 * @module
 */
import { BUNDLE_HEADER, HOT_FUNCTIONS_FILE, rawBundle } from "./bundle.ts";
import type { Candidate } from "./eager.ts";
import { isAlive, killHomeProcesses, processesOfHome } from "../tests/support/helpers.ts";
import { layoutRealRelease } from "../tests/support/real_codex.ts";

/**
 * The calls clients make all the time, against a running server: the ones
 * whose start-up is most of their time. The rarer `start` of a stopped
 * server, `stop` and `restart` spend 100+ ms on the app-server itself, and
 * each function made eager makes every call's cache load a little slower
 * (measured: the cache of all five commands' functions is 1.5x the size of
 * these three's, and `version` ~0.5 ms slower with it).
 */
const SCENARIO: string[][] = [["start"], ["version"], ["status"]];

/** V8 function events that mean "compiled now" (so not from the code cache). */
const COMPILED = new Set(["parse-function", "full-parse", "interpreter"]);

/** End offsets of the functions V8 compiled in `scriptUrl`, from a `--log-function-events` log. */
export function compiledEnds(log: string, scriptUrl: string): Set<number> {
  const ends = new Set<number>();
  let scriptId: string | undefined;
  for (const line of log.split("\n")) {
    const fields = line.split(",");
    if (fields[0] === "script-details" && fields[2] === scriptUrl) scriptId = fields[1];
    if (fields[0] === "function" && COMPILED.has(fields[1]) && fields[2] === scriptId) {
      ends.add(Number(fields[4]));
    }
  }
  return ends;
}

/** The candidates whose end is among `ends` (offsets in the headed file). */
export function hotKeys(found: Candidate[], ends: Set<number>, offset: number): string[] {
  return [...new Set(found.filter((c) => ends.has(c.end + offset)).map((c) => c.key))].sort();
}

/** Runs the bundle `file` with `args` on `home`, V8's function events logged to `log` if given. */
async function runCli(file: string, home: string, args: string[], log?: string): Promise<void> {
  const flags = log === undefined
    ? []
    : [`--v8-flags=--log-function-events,--logfile=${log},--no-logfile-per-isolate`];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, file, ...args],
    env: { CODEX_HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`codexd ${args.join(" ")} failed: ${new TextDecoder().decode(out.stdout)}`);
  }
}

if (import.meta.main) {
  const raw = await rawBundle();
  const dir = await Deno.makeTempDir({ prefix: "codexd-hot-" });
  const home = `${dir}/home`;
  try {
    const file = `${dir}/codexd.js`;
    await Deno.writeTextFile(file, BUNDLE_HEADER + raw.code);
    await Deno.mkdir(home);
    await layoutRealRelease(home);
    const ends = new Set<number>();
    // Up first: the scenario meets a running server.
    await runCli(file, home, ["start"]);
    for (const args of SCENARIO) {
      const log = `${dir}/v8.log`;
      await runCli(file, home, args, log);
      for (const end of compiledEnds(await Deno.readTextFile(log), `file://${file}`)) ends.add(end);
    }
    const keys = hotKeys(raw.candidates, ends, BUNDLE_HEADER.length);
    await Deno.writeTextFile(HOT_FUNCTIONS_FILE, JSON.stringify(keys, null, 2) + "\n");
    console.log(`${keys.length} hot functions of ${raw.candidates.length} candidates`);
    await runCli(file, home, ["stop"]);
  } finally {
    await killHomeProcesses(home);
    if (processesOfHome(home).some(isAlive)) console.error(`warning: processes left in ${home}`);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
