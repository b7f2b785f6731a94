/**
 * Test support: temp CODEX_HOMEs with a fake or the real codex installed in
 * the standalone layout, a runner for the real CLI entry point, and a cleanup
 * that kills every process a test home ever started (found through
 * `/proc/PID/environ`, so even a leaked process is caught).
 *
 * @module
 */
import { dirname, fromFileUrl } from "./path.ts";
import { readDenoJson, rewriteSpecifiers } from "../../scripts/jsr_layout.ts";

/** Repository root. */
export const REPO_ROOT: string = dirname(dirname(dirname(fromFileUrl(import.meta.url))));
/** The CLI entry point the one-liner runs. */
export const MOD_TS = `${REPO_ROOT}/mod.ts`;
/** The fake codex program. */
export const FAKE_APP_SERVER = `${REPO_ROOT}/tests/fixtures/fake_app_server.ts`;
/** Target triple of the standalone layout on this machine. */
export const TARGET = "x86_64-unknown-linux-musl";

/** Knobs of the fake app-server. */
export type { FakeConfig } from "../fixtures/fake_app_server.ts";
import type { FakeConfig } from "../fixtures/fake_app_server.ts";

/** A temp CODEX_HOME that kills its processes and removes itself on dispose. */
export interface TestHome extends AsyncDisposable {
  /** The CODEX_HOME path. */
  home: string;
}

/** Result of one CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON object (throws if it is not exactly that). */
  json: Record<string, unknown>;
}

/** Writes the fake codex launcher into a release dir and points `current` at it. */
export async function installFakeRelease(home: string, version = "9.9.9"): Promise<string> {
  const release = `${home}/packages/standalone/releases/${version}-${TARGET}`;
  await Deno.mkdir(`${release}/bin`, { recursive: true });
  const launcher = `${release}/bin/codex`;
  await Deno.writeTextFile(
    launcher,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --no-config --cached-only "${FAKE_APP_SERVER}" "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.symlink("bin/codex", `${release}/codex`).catch(() => {});
  await pointCurrent(home, `${version}-${TARGET}`);
  return launcher;
}

/** Atomically points `packages/standalone/current` at `releases/<name>`. */
export async function pointCurrent(home: string, name: string): Promise<void> {
  const standalone = `${home}/packages/standalone`;
  const temp = `${standalone}/current.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.symlink(`releases/${name}`, temp);
  await Deno.rename(temp, `${standalone}/current`);
}

/** Sets the fake app-server's knobs for the next launches. */
export async function configureFake(home: string, config: FakeConfig): Promise<void> {
  await Deno.writeTextFile(`${home}/fake-app-server.json`, JSON.stringify(config));
}

/** Reads the fake's launch log: one entry per app-server launch. */
export async function fakeLaunches(
  home: string,
): Promise<{ pid: number; args: string[]; remoteControlDisabledEnv: string | null }[]> {
  try {
    const text = await Deno.readTextFile(`${home}/fake-launches.jsonl`);
    return text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

let fakeWarmed = false;

/** Makes sure the fake's module graph is cached, so `--cached-only` works. */
async function warmFake(): Promise<void> {
  if (fakeWarmed) return;
  await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--no-config", FAKE_APP_SERVER],
    stdout: "null",
    stderr: "null",
  }).output();
  fakeWarmed = true;
}

/** A temp CODEX_HOME with the fake codex installed as the managed binary. */
export async function fakeHome(
  config: FakeConfig = {},
  options: { prefix?: string; parent?: string } = {},
): Promise<TestHome> {
  await warmFake();
  const home = await Deno.makeTempDir({
    prefix: options.prefix ?? "codexd-test-",
    dir: options.parent,
  });
  await installFakeRelease(home, config.version ?? "9.9.9");
  await configureFake(home, config);
  return disposableHome(home);
}

/** Wraps a directory as a {@linkcode TestHome}. */
export function disposableHome(home: string): TestHome {
  return {
    home,
    [Symbol.asyncDispose]: async () => {
      await killHomeProcesses(home);
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** Runs the CLI (`deno run -A mod.ts …`) against `home`. */
export async function runCli(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_TS, ...args],
    env: { CODEX_HOME: home, NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return cliRun(out);
}

/** A finished CLI process as a {@linkcode CliRun}: its output decoded, `json` its one stdout line. */
export function cliRun(out: Deno.CommandOutput): CliRun {
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return {
    code: out.code,
    stdout,
    stderr,
    get json(): Record<string, unknown> {
      const lines = stdout.split("\n").filter((line) => line !== "");
      if (lines.length !== 1) {
        throw new Error(`expected one JSON line on stdout, got: ${stdout}\nstderr: ${stderr}`);
      }
      return JSON.parse(lines[0]);
    },
  };
}

/** A CLI run that is killed (and reported as hung) past its limit. */
export type BoundedCliRun = CliRun & { hung: boolean };

/** Runs the CLI with `denoFlags` (default `-A`) and a hard bound, so a hang fails instead of wedging the suite. */
export async function runBoundedCli(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; denoFlags?: string[]; limitMs?: number } = {},
): Promise<BoundedCliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoFlags ?? ["-A"]), MOD_TS, ...args],
    env: { CODEX_HOME: home, NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, options.limitMs ?? 30_000);
  try {
    return Object.assign(cliRun(await child.output()), { hung });
  } finally {
    clearTimeout(timer);
  }
}

/** The permission bits of `path` itself (a link is not followed). */
export function modeOf(path: string): number {
  return (Deno.lstatSync(path).mode ?? 0) & 0o777;
}

/** SIGKILLs a child of the test (if still running) and reaps it. */
export async function killChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await child.status;
}

/** Whether process `pid` has `path` open (it waits for, or holds, that lock). */
export function hasOpen(pid: number, path: string): boolean {
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`) === path) return true;
    }
  } catch {
    // gone
  }
  return false;
}

/** Whether `pid` is alive (a zombie counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Pids of live processes whose environment has `CODEX_HOME=<home>`. */
export function processesOfHome(home: string): number[] {
  const needle = `CODEX_HOME=${home}\0`;
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
      if (environ.includes(needle) && isAlive(pid)) pids.push(pid);
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/** Waits (bounded) until `check` holds; returns whether it did. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  pollMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return await check();
}

/** SIGKILLs every process started for `home` and waits until they are gone. */
export async function killHomeProcesses(home: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const pids = processesOfHome(home);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await eventually(() => pids.every((pid) => !isAlive(pid)), 5_000, 10);
  }
}

/**
 * Serves the repository read-only over HTTP on loopback, as a remote copy is
 * seen: bare specifiers mapped in deno.json `imports` are rewritten to their
 * `jsr:` targets (a remote module gets no import map), as `deno publish` does.
 */
export function serveRepo(): Deno.HttpServer<Deno.NetAddr> {
  const imports = readDenoJson(REPO_ROOT).imports ?? {};
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const raw = await Deno.readFile(`${REPO_ROOT}${path}`);
      const body = path.endsWith(".ts")
        ? rewriteSpecifiers(new TextDecoder().decode(raw), imports)
        : raw;
      // A `.js` file served as TypeScript would be transpiled again by deno (~25 ms).
      const type = path.endsWith(".js") ? "application/javascript" : "application/typescript";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** An app-server of a home started by hand (no pid record); dispose kills and reaps it. */
export interface HandStartedServer extends AsyncDisposable {
  /** Its pid. */
  pid: number;
}

/**
 * Starts `<home>/packages/standalone/current/codex app-server --listen unix://`
 * as a user (or another tool) would, without codexd, and waits (bounded)
 * until `version` sees it answer.
 */
export async function serverByHand(home: string, readyMs = 15_000): Promise<HandStartedServer> {
  const child = new Deno.Command(`${home}/packages/standalone/current/codex`, {
    args: ["app-server", "--listen", "unix://"],
    env: { CODEX_HOME: home },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const dispose = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already stopped (by codexd, usually)
    }
    await child.status;
  };
  if (!await eventually(async () => (await runCli(home, ["version"])).code === 0, readyMs)) {
    await dispose();
    throw new Error(`the app-server started by hand in ${home} never answered`);
  }
  return { pid: child.pid, [Symbol.asyncDispose]: dispose };
}
