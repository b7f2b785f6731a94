/**
 * Who holds the control socket when no pid record names a server: the
 * listening socket's inode from `/proc/net/unix`, then the process whose
 * `/proc/PID/fd` links to `socket:[inode]`. The owner is "this home's
 * app-server" only when its command line runs `app-server` and its
 * environment names this CODEX_HOME (or, without `CODEX_HOME`, a `HOME`
 * whose `.codex` is this home). Anything else is reported and never touched.
 *
 * Linux only (reads `/proc`); elsewhere the owner is unknown.
 *
 * @module
 */
import { linkTarget } from "../app_server/socket_path.ts";
import { join } from "../state/paths.ts";
import { probeProcess, type ProcessProbe } from "../process/process_identity.ts";

/** What is known about the process listening on the control socket. */
export interface SocketOwner {
  /** Its pid. */
  pid: number;
  /** Whether it is a codex app-server of this CODEX_HOME (safe to adopt or stop). */
  ours: boolean;
  /** Why it is not ours, when it is not. */
  reason?: string;
  /** Its identity now, for a pid record. */
  probe: ProcessProbe;
}

/** `__SO_ACCEPTCON`: the socket is listening. */
const ACCEPTING = 0x10000;

/**
 * Inodes of listening sockets bound to one of `paths`, from the text of
 * `/proc/net/unix` (pure; tested by a table).
 */
export function listeningInodes(procNetUnix: string, paths: string[]): number[] {
  const inodes: number[] = [];
  for (const line of procNetUnix.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const flags = parseInt(fields[3], 16);
    const path = fields.slice(7).join(" ");
    if ((flags & ACCEPTING) !== 0 && paths.includes(path)) inodes.push(Number(fields[6]));
  }
  return inodes;
}

/**
 * Whether a process's argv and environment make it this home's app-server
 * (pure; tested by a table). `environ` is the NUL-separated environment.
 */
export function isHomeAppServer(
  argv: string[],
  environ: string,
  codexHome: string,
): { ours: boolean; reason?: string } {
  if (!argv.includes("app-server")) {
    return { ours: false, reason: `it is not a codex app-server (${argv.slice(0, 3).join(" ")})` };
  }
  const env = new Map(
    environ.split("\0").filter(Boolean).map((kv) => {
      const eq = kv.indexOf("=");
      return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
    }),
  );
  const home = env.get("CODEX_HOME") || (env.get("HOME") ? join(env.get("HOME")!, ".codex") : "");
  if (home.replace(/\/+$/, "") !== codexHome.replace(/\/+$/, "")) {
    return { ours: false, reason: `it serves CODEX_HOME ${home || "(unknown)"}` };
  }
  return { ours: true };
}

function socketPaths(socketPath: string): string[] {
  const target = linkTarget(socketPath);
  return target === undefined ? [socketPath] : [socketPath, target];
}

function pidHolding(inodes: number[]): number | undefined {
  const wanted = new Set(inodes.map((inode) => `socket:[${inode}]`));
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    let fds: Iterable<Deno.DirEntry>;
    try {
      fds = Deno.readDirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    try {
      for (const fd of fds) {
        let target: string;
        try {
          target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
        } catch {
          // This fd closed while we looked (a busy app-server opens and closes many): the next.
          continue;
        }
        if (wanted.has(target)) return pid;
      }
    } catch {
      // the process exited while we looked
    }
  }
  return undefined;
}

/** Finds the process listening on the control socket; `undefined` when none can be seen. */
export function findSocketOwner(codexHome: string, socketPath: string): SocketOwner | undefined {
  if (Deno.build.os !== "linux") return undefined;
  let table: string;
  try {
    table = Deno.readTextFileSync("/proc/net/unix");
  } catch {
    return undefined;
  }
  const inodes = listeningInodes(table, socketPaths(socketPath));
  if (inodes.length === 0) return undefined;
  const pid = pidHolding(inodes);
  if (pid === undefined) return undefined;
  const probe = probeProcess(pid);
  let argv: string[];
  let environ: string;
  try {
    argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
  } catch {
    return { pid, ours: false, reason: "its command line or environment is unreadable", probe };
  }
  return { pid, ...isHomeAppServer(argv, environ, codexHome), probe };
}
