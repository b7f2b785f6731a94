/**
 * Side-by-side benchmark: codexd against the Rust reference
 * (`codex app-server daemon`) on the same real codex binary, in two separate
 * CODEX_HOMEs, alternating runs so drift hits both equally. Prints medians,
 * ratios (codexd / reference) and peak resident memory of the CLI process.
 *
 * Usage: `deno task bench [--runs N]`
 *
 * @module
 */
import { isAlive, killHomeProcesses, MOD_TS, processesOfHome } from "../tests/support/helpers.ts";
import { layoutRealRelease, REAL_CODEX_VERSION } from "../tests/support/real_codex.ts";

const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 11;
const HAVE_TIME = (() => {
  try {
    return Deno.statSync("/usr/bin/time").isFile;
  } catch {
    return false;
  }
})();

interface Sample {
  ms: number;
  peakKiB: number;
}

type Impl = "codexd" | "reference";

async function timed(impl: Impl, home: string, command: string): Promise<Sample> {
  const argv = impl === "codexd"
    ? [Deno.execPath(), "run", "-A", MOD_TS, command]
    : [`${home}/packages/standalone/current/codex`, "app-server", "daemon", command];
  const wrapped = HAVE_TIME ? ["/usr/bin/time", "-f", "PEAK_KIB=%M", ...argv] : argv;
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Row {
  name: string;
  codexd: Sample[];
  reference: Sample[];
}

async function measure(
  name: string,
  homes: Record<Impl, string>,
  step: (impl: Impl, home: string) => Promise<Sample>,
): Promise<Row> {
  const row: Row = { name, codexd: [], reference: [] };
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first so neither always runs on a warmer machine.
    const order: Impl[] = i % 2 ? ["reference", "codexd"] : ["codexd", "reference"];
    for (const impl of order) row[impl].push(await step(impl, homes[impl]));
  }
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

/**
 * The floor no daemon tool can beat: the app-server's own spawn-to-ready time
 * (spawned directly, polled every 5 ms) and its SIGTERM-to-exit time.
 */
async function appServerFloor(home: string): Promise<{ readyMs: number; exitMs: number }> {
  const { probeAppServer } = await import("../lib/control_socket.ts");
  const socket = `${home}/app-server-control/app-server-control.sock`;
  const ready: number[] = [];
  const exit: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const child = new Deno.Command(`${home}/packages/standalone/current/codex`, {
      args: [
        "app-server",
        "--listen",
        "unix://",
        "--analytics-default-enabled",
        "--managed-daemon",
      ],
      env: { CODEX_HOME: home, CODEX_INTERNAL_APP_SERVER_REMOTE_CONTROL_DISABLED: "1" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    while (true) {
      try {
        await probeAppServer(socket);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    ready.push(performance.now() - started);
    const stopping = performance.now();
    child.kill("SIGTERM");
    await child.status;
    exit.push(performance.now() - stopping);
  }
  return { readyMs: median(ready), exitMs: median(exit) };
}

const homes: Record<Impl, string> = {
  codexd: await Deno.makeTempDir({ prefix: "codexd-bench-" }),
  reference: await Deno.makeTempDir({ prefix: "codexd-bench-ref-" }),
};
try {
  await Promise.all(Object.values(homes).map((home) => layoutRealRelease(home)));
  await new Deno.Command(Deno.execPath(), { args: ["cache", MOD_TS] }).output();
  // Warm both (the reference installs a copy of itself on first start).
  for (const impl of ["codexd", "reference"] as Impl[]) {
    await timed(impl, homes[impl], "start");
    await timed(impl, homes[impl], "version");
  }
  const rows: Row[] = [];
  rows.push(await measure("version", homes, (impl, home) => timed(impl, home, "version")));
  rows.push(await measure("start (running)", homes, (impl, home) => timed(impl, home, "start")));
  rows.push(await measure("restart", homes, (impl, home) => timed(impl, home, "restart")));
  rows.push(
    await measure(
      "stop + start",
      homes,
      async (impl, home) =>
        await sum(timed(impl, home, "stop")).then(async (stop) =>
          await sum(Promise.resolve(stop), timed(impl, home, "start"))
        ),
    ),
  );
  for (const impl of ["codexd", "reference"] as Impl[]) await timed(impl, homes[impl], "stop");

  const lines = [
    `codexd vs reference, codex ${REAL_CODEX_VERSION}, ${RUNS} alternating runs, ${navigator.hardwareConcurrency} cores`,
    "",
    "| operation | codexd median | reference median | ratio | codexd peak RSS | reference peak RSS |",
    "|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const c = median(row.codexd.map((s) => s.ms));
    const r = median(row.reference.map((s) => s.ms));
    const cm = Math.max(...row.codexd.map((s) => s.peakKiB)) / 1024;
    const rm = Math.max(...row.reference.map((s) => s.peakKiB)) / 1024;
    lines.push(
      `| ${row.name} | ${c.toFixed(0)} ms | ${r.toFixed(0)} ms | ${(c / r).toFixed(2)}x | ${
        cm ? cm.toFixed(0) + " MiB" : "n/a"
      } | ${rm ? rm.toFixed(0) + " MiB" : "n/a"} |`,
    );
  }
  const floor = await appServerFloor(homes.codexd);
  lines.push(
    "",
    `Floor on this machine: the app-server itself takes ${
      floor.readyMs.toFixed(0)
    } ms from spawn to answering initialize and ${
      floor.exitMs.toFixed(0)
    } ms from SIGTERM to exit (median of 5, spawned directly).`,
  );
  const { updaterIdleRss } = await import("./updater_rss.ts").catch(() => ({
    updaterIdleRss: undefined,
  }));
  if (updaterIdleRss) lines.push("", await updaterIdleRss());
  console.log(lines.join("\n"));
} finally {
  for (const home of Object.values(homes)) {
    await killHomeProcesses(home);
    if (processesOfHome(home).some(isAlive)) console.error(`warning: processes left in ${home}`);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}
