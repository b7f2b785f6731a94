/**
 * Side-by-side benchmark: codexd against the Rust reference
 * (`codex app-server daemon`) on the same real codex binary, in two separate
 * CODEX_HOMEs, alternating runs so drift hits both equally. Each command is
 * exec'd directly (the native deno binary, never the npm Node wrapper; no
 * shell, no `env`, no `time`). Prints medians, ratios (codexd / reference),
 * and beside each the floor no Deno CLI can go below on this machine, built
 * from measured parts: Deno's own start-up, the one-off load of its process
 * API (`Deno.kill`/`Deno.Command`), a minimal Deno program answering
 * `version` (`bench/minimal_version.js`), and the app-server's own
 * spawn→ready and SIGTERM→exit. Then a first run on a fresh host (empty
 * DENO_DIR, code served over loopback HTTP), and peak resident memory
 * measured in a separate pass.
 *
 * Usage: `deno task bench [--runs N] [--entry bundle|mod]`
 *
 * @module
 */
import {
  isAlive,
  killHomeProcesses,
  MOD_TS,
  processesOfHome,
  REPO_ROOT,
  serveRepo,
} from "../tests/support/helpers.ts";
import { layoutRealRelease, REAL_CODEX_VERSION } from "../tests/support/real_codex.ts";
import { median } from "./stats.ts";

const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 11;
const entryFlag = Deno.args.indexOf("--entry");
/** What the one-liner runs: the one-file bundle by default. */
const ENTRY = entryFlag >= 0 && Deno.args[entryFlag + 1] === "mod"
  ? MOD_TS
  : `${REPO_ROOT}/dist/codexd.js`;
/**
 * The one-liner runs with no deno.json around it (a JSR module, from a
 * user's directory); a file of this checkout would pick up the checkout's
 * (its import map, ~0.3 ms a run, measured). `mod.ts` needs that map.
 */
const OUTSIDE_CHECKOUT = ENTRY === MOD_TS ? [] : ["--no-config"];
const HAVE_TIME = (() => {
  try {
    return Deno.statSync("/usr/bin/time").isFile;
  } catch {
    return false;
  }
})();

/** Issue #20's bound on `version` and `start` (running): this many times Deno's empty program. */
const EMPTY_TARGET = 1.5;

interface Sample {
  ms: number;
  peakKiB: number;
}

type Impl = "codexd" | "reference";

async function timed(
  impl: Impl,
  home: string,
  command: string,
  withRss = false,
): Promise<Sample> {
  const argv = impl === "codexd"
    ? [Deno.execPath(), "run", "-A", ...OUTSIDE_CHECKOUT, ENTRY, command]
    : [`${home}/packages/standalone/current/codex`, "app-server", "daemon", command];
  const wrapped = HAVE_TIME && withRss ? ["/usr/bin/time", "-f", "PEAK_KIB=%M", ...argv] : argv;
  const started = performance.now();
  const out = await new Deno.Command(wrapped[0], {
    args: wrapped.slice(1),
    env: { CODEX_HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`${impl} ${command} failed: ${new TextDecoder().decode(out.stdout)} ${stderr}`);
  }
  const peak = /PEAK_KIB=(\d+)/.exec(stderr);
  return { ms, peakKiB: peak ? Number(peak[1]) : 0 };
}

interface Row {
  name: string;
  codexd: Sample[];
  reference: Sample[];
  /** Deno's empty program, sampled after each run of the row (when its floor sampler does). */
  empty: number[];
}

async function measure(
  name: string,
  homes: Record<Impl, string>,
  step: (impl: Impl, home: string) => Promise<Sample>,
  sampleFloor: () => Promise<void>,
): Promise<Row> {
  const row: Row = { name, codexd: [], reference: [], empty: [] };
  const emptyFrom = floorSamples.empty.length;
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first so neither always runs on a warmer machine;
    // the floor is sampled in the same window (this machine's speed drifts).
    const order: Impl[] = i % 2 ? ["reference", "codexd"] : ["codexd", "reference"];
    for (const impl of order) row[impl].push(await step(impl, homes[impl]));
    await sampleFloor();
  }
  row.empty = floorSamples.empty.slice(emptyFrom);
  return row;
}

async function sum(...samples: Promise<Sample>[]): Promise<Sample> {
  let ms = 0;
  let peakKiB = 0;
  for (const sample of samples) {
    const s = await sample;
    ms += s.ms;
    peakKiB = Math.max(peakKiB, s.peakKiB);
  }
  return { ms, peakKiB };
}

/** Bound on the bare app-server's start and on its exit after SIGTERM, in the floor samples. */
const SERVER_FLOOR_BOUND_MS = 15_000;
/** Floor samples whose app-server outlived {@linkcode SERVER_FLOOR_BOUND_MS} after SIGTERM. */
let slowExits = 0;

/** Samples of what no daemon tool on Deno can beat, taken beside the rows. */
const floorSamples = {
  /** `deno run` of an empty file. */
  empty: [] as number[],
  /** A file that only touches `Deno.kill` (Deno loads its process module). */
  processApi: [] as number[],
  /** `bench/minimal_version.js` against the running server. */
  minimalVersion: [] as number[],
  /** The app-server's spawn → answering `initialize`. */
  ready: [] as number[],
  /** The app-server's SIGTERM → exit. */
  exit: [] as number[],
};

/** Wall time of one run of `argv`. */
async function runOnce(argv: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  await new Deno.Command(argv[0], { args: argv.slice(1), env, stdout: "null", stderr: "null" })
    .output();
  return performance.now() - started;
}

/** One sample of Deno's own floor: empty program, process API, minimal `version`. */
async function sampleDenoFloor(programs: FloorPrograms, home: string): Promise<void> {
  const run = (file: string): Promise<number> =>
    runOnce([Deno.execPath(), "run", "-A", "--no-config", file], { CODEX_HOME: home });
  floorSamples.empty.push(await run(programs.empty));
  floorSamples.processApi.push(await run(programs.processApi));
  floorSamples.minimalVersion.push(await run(`${REPO_ROOT}/bench/minimal_version.js`));
}

/**
 * One sample of the app-server's own times in a third CODEX_HOME: spawned
 * directly with this environment (its PATH matters: the server runs
 * `lsb_release` and `git` while starting), polled every millisecond until it
 * answers `initialize`, then SIGTERM until it exits.
 */
async function sampleServerFloor(home: string): Promise<void> {
  const { probe } = await import("../lib/app_server/probe.ts");
  const socket = `${home}/app-server-control/app-server-control.sock`;
  const started = performance.now();
  const child = new Deno.Command(`${home}/packages/standalone/current/codex`, {
    args: ["app-server", "--listen", "unix://", "--analytics-default-enabled", "--managed-daemon"],
    env: { CODEX_HOME: home, CODEX_INTERNAL_APP_SERVER_REMOTE_CONTROL_DISABLED: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  while (await probe({ paths: { socketPath: socket }, options: {} }) === undefined) {
    if (performance.now() - started > SERVER_FLOOR_BOUND_MS) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`the bare app-server did not answer within ${SERVER_FLOOR_BOUND_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  floorSamples.ready.push(performance.now() - started);
  const stopping = performance.now();
  child.kill("SIGTERM");
  // Once in a while the app-server sits on a SIGTERM (measured: 11 min, until a second one):
  // bounded, and such a sample is not an exit time.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<false>((resolve) =>
      timer = setTimeout(() => resolve(false), SERVER_FLOOR_BOUND_MS)
    ),
  ]);
  clearTimeout(timer);
  if (exited) {
    floorSamples.exit.push(performance.now() - stopping);
    return;
  }
  child.kill("SIGKILL");
  await child.status;
  slowExits++;
}

/** The throwaway programs of Deno's floor. */
interface FloorPrograms {
  empty: string;
  processApi: string;
}

async function writeFloorPrograms(dir: string): Promise<FloorPrograms> {
  const programs = { empty: `${dir}/empty.js`, processApi: `${dir}/process_api.js` };
  await Deno.writeTextFile(programs.empty, "");
  await Deno.writeTextFile(programs.processApi, "void Deno.kill;\n");
  return programs;
}

/**
 * A first run on a fresh host: an empty DENO_DIR and the code served over
 * loopback HTTP (standing in for JSR), for the bundle and for `mod.ts`.
 */
async function freshHostStart(home: string): Promise<{ bundleMs: number; modMs: number }> {
  const server = serveRepo();
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const once = async (url: string): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < Math.min(RUNS, 7); i++) {
        const denoDir = await Deno.makeTempDir({ prefix: "codexd-bench-denodir-" });
        try {
          const started = performance.now();
          await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", url, "start"],
            env: { DENO_DIR: denoDir, CODEX_HOME: home },
            stdout: "null",
            stderr: "null",
          }).output();
          samples.push(performance.now() - started);
        } finally {
          await Deno.remove(denoDir, { recursive: true });
        }
      }
      return median(samples);
    };
    return { bundleMs: await once(`${base}/dist/codexd.js`), modMs: await once(`${base}/mod.ts`) };
  } finally {
    await server.shutdown();
  }
}

/** The `deno` a user's shell finds, when it is the npm Node wrapper rather than the binary. */
function nodeWrapperOnPath(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const real = Deno.realPathSync(`${dir}/deno`);
      return real.endsWith(".cjs") ? real : undefined;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const wrapper = nodeWrapperOnPath();
if (wrapper) {
  console.error(
    `warning: \`deno\` on PATH is the npm Node wrapper (${wrapper}): every command costs ~70 ms more there; this bench runs ${Deno.execPath()}`,
  );
}

const homes: Record<Impl, string> = {
  codexd: await Deno.makeTempDir({ prefix: "codexd-bench-" }),
  reference: await Deno.makeTempDir({ prefix: "codexd-bench-ref-" }),
};
/** A third home where the bare app-server is spawned for its own times. */
const floorHome = await Deno.makeTempDir({ prefix: "codexd-bench-floor-" });
try {
  await Promise.all([...Object.values(homes), floorHome].map((home) => layoutRealRelease(home)));
  const programs = await writeFloorPrograms(floorHome);
  await new Deno.Command(Deno.execPath(), { args: ["cache", ENTRY] }).output();
  // Warm both (the reference installs a copy of itself on first start).
  for (const impl of ["codexd", "reference"] as Impl[]) {
    await timed(impl, homes[impl], "start");
    await timed(impl, homes[impl], "version");
  }
  const denoFloor = (): Promise<void> => sampleDenoFloor(programs, homes.codexd);
  const serverFloor = (): Promise<void> => sampleServerFloor(floorHome);
  await denoFloor(); // fills the code cache of the floor programs
  for (const list of Object.values(floorSamples)) list.length = 0;
  const rows: Row[] = [];
  rows.push(
    await measure("version", homes, (impl, home) => timed(impl, home, "version"), denoFloor),
  );
  rows.push(
    await measure("start (running)", homes, (impl, home) => timed(impl, home, "start"), denoFloor),
  );
  rows.push(
    await measure("restart", homes, (impl, home) => timed(impl, home, "restart"), serverFloor),
  );
  rows.push(
    await measure(
      "stop + start",
      homes,
      async (impl, home) =>
        await sum(timed(impl, home, "stop")).then(async (stop) =>
          await sum(Promise.resolve(stop), timed(impl, home, "start"))
        ),
      serverFloor,
    ),
  );
  // Peak RSS in its own pass: /usr/bin/time adds a fork and an exec to what it measures.
  const rss: Record<Impl, number> = { codexd: 0, reference: 0 };
  for (const impl of ["codexd", "reference"] as Impl[]) {
    for (const command of ["version", "restart"]) {
      rss[impl] = Math.max(rss[impl], (await timed(impl, homes[impl], command, true)).peakKiB);
    }
  }
  const fresh = await freshHostStart(homes.codexd);
  for (const impl of ["codexd", "reference"] as Impl[]) await timed(impl, homes[impl], "stop");

  // The least any Deno CLI could take: its start-up, the process API where
  // it signals or spawns, and the app-server's own times.
  const emptyMs = median(floorSamples.empty);
  const processApiMs = Math.max(0, median(floorSamples.processApi) - emptyMs);
  const minimalVersionMs = median(floorSamples.minimalVersion);
  const readyMs = median(floorSamples.ready);
  const exitMs = median(floorSamples.exit);
  const floors: Record<string, number> = {
    "version": minimalVersionMs,
    "start (running)": minimalVersionMs,
    "restart": emptyMs + processApiMs + exitMs + readyMs,
    "stop + start": 2 * (emptyMs + processApiMs) + exitMs + readyMs,
  };
  const targets: Record<string, number> = {
    "version": 1.2,
    "start (running)": 1.2,
    "restart": 0.5,
    "stop + start": 0.5,
  };
  const lines = [
    `codexd (${
      ENTRY.slice(REPO_ROOT.length + 1)
    }) vs reference, codex ${REAL_CODEX_VERSION}, ${RUNS} alternating runs, ${navigator.hardwareConcurrency} cores, ${Deno.execPath()}`,
    "",
    "| operation | codexd median | reference median | ratio | target | Deno floor (ratio) |",
    "|---|---|---|---|---|---|",
  ];
  // Issue #20's own measure: each run against the empty program sampled right after it.
  const paired = rows.filter((row) => row.empty.length === row.codexd.length).map((row) => {
    const ratio = median(row.codexd.map((s, i) => s.ms / row.empty[i]));
    return `${row.name} ${ratio.toFixed(2)}x ${ratio <= EMPTY_TARGET ? "✓" : "✗"}`;
  });
  for (const row of rows) {
    const c = median(row.codexd.map((s) => s.ms));
    const r = median(row.reference.map((s) => s.ms));
    const target = targets[row.name];
    const floor = floors[row.name];
    lines.push(
      `| ${row.name} | ${c.toFixed(0)} ms | ${r.toFixed(0)} ms | ${
        (c / r).toFixed(2)
      }x | ≤ ${target}x ${c / r <= target ? "✓" : "✗"} | ${floor.toFixed(0)} ms (${
        (floor / r).toFixed(2)
      }x) |`,
    );
  }
  lines.push(
    "",
    `codexd against Deno's empty program, run by run (median of each run over the empty program sampled right after it; target ≤ ${EMPTY_TARGET}x): ${
      paired.join(", ")
    }.`,
  );

  lines.push(
    "",
    `Deno floor parts (sampled beside the rows): \`deno run\` of an empty file ${
      emptyMs.toFixed(1)
    } ms; Deno's process API on first touch +${
      processApiMs.toFixed(1)
    } ms; bench/minimal_version.js (no checks at all) ${
      minimalVersionMs.toFixed(1)
    } ms; the app-server ${readyMs.toFixed(0)} ms from spawn to answering initialize, ${
      exitMs.toFixed(0)
    } ms from SIGTERM to exit${
      slowExits
        ? ` (${slowExits} sample(s) left out: still running ${SERVER_FLOOR_BOUND_MS} ms after SIGTERM)`
        : ""
    }.`,
    `First run on a fresh host (empty DENO_DIR, code over loopback HTTP), \`start\` of a running server: bundle ${
      fresh.bundleMs.toFixed(0)
    } ms (target ≤ 50 ms), mod.ts ${fresh.modMs.toFixed(0)} ms.`,
    `Peak RSS of one CLI call (version, restart): codexd ${
      (rss.codexd / 1024).toFixed(0)
    } MiB, reference ${(rss.reference / 1024).toFixed(0)} MiB.`,
  );
  const { updaterIdleRss } = await import("./updater_rss.ts").catch(() => ({
    updaterIdleRss: undefined,
  }));
  if (updaterIdleRss) lines.push("", await updaterIdleRss());
  console.log(lines.join("\n"));
} finally {
  for (const home of [...Object.values(homes), floorHome]) {
    await killHomeProcesses(home);
    if (processesOfHome(home).some(isAlive)) console.error(`warning: processes left in ${home}`);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}
