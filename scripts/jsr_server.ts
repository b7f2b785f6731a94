/**
 * A JSR registry on disk, served over loopback so Deno resolves `jsr:`
 * specifiers offline (`JSR_URL=http://127.0.0.1:PORT/`). The project's
 * machines reach only npm and Debian; `../shared/jsr` (or `CODEXD_JSR_DIR`)
 * holds every `@std` package and Cliffy laid out as JSR serves them.
 *
 * Built-ins only: this file is what makes `jsr:` imports resolvable, so it
 * cannot itself import one.
 *
 * Run it to serve until SIGINT/SIGTERM; it prints the URL as its first line:
 *
 * ```sh
 * deno run -A scripts/jsr_server.ts [DIR]
 * ```
 *
 * @module
 */

/** Content types Deno needs to load a module (Debian's MIME table calls `.ts` Qt linguist). */
const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".mts": "application/typescript",
  ".js": "application/javascript",
  ".mjs": "application/javascript",
  ".json": "application/json",
};

/** The content type served for `path`. Pure. */
export function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  const ext = dot > path.lastIndexOf("/") ? path.slice(dot) : "";
  return CONTENT_TYPES[ext] ?? "text/plain; charset=utf-8";
}

/** The directory holding this checkout (the parent of `scripts/`). */
export const REPO_ROOT: string = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Where the on-disk registry is: `$CODEXD_JSR_DIR`, else the first
 * `shared/jsr` in the checkout's parent or any directory above it, else the
 * same search from the checkout this one was cloned from (its `origin`, when
 * that is a local path: a clean clone in CI may sit anywhere, e.g. under
 * `/tmp`). `undefined` when there is none.
 */
export function locateJsrDir(
  repo: string = REPO_ROOT,
  env: string | undefined = Deno.env.get("CODEXD_JSR_DIR"),
  exists: (path: string) => boolean = isDir,
  origin: string | undefined = localOrigin(repo),
): string | undefined {
  if (env) return exists(env) ? env : undefined;
  for (const start of origin === undefined ? [repo] : [repo, origin]) {
    let dir = start.replace(/\/+$/, "");
    while (dir !== "") {
      dir = dir.slice(0, dir.lastIndexOf("/"));
      const candidate = `${dir}/shared/jsr`;
      if (exists(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The `origin` remote of the checkout at `repo` when it is a local directory, else `undefined`. */
function localOrigin(repo: string): string | undefined {
  let config: string;
  try {
    config = Deno.readTextFileSync(`${repo}/.git/config`);
  } catch {
    return undefined; // not a clone (a worktree's .git is a file), or unreadable
  }
  const section = config.split(/^\[/m).find((part) => part.startsWith('remote "origin"]'));
  const url = section?.match(/^\s*url\s*=\s*(.+?)\s*$/m)?.[1];
  if (url === undefined) return undefined;
  const path = url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
  return path.startsWith("/") ? path.replace(/\/\.git$/, "") : undefined;
}

/** A running registry server. */
export interface JsrServer extends AsyncDisposable {
  /** The value for `JSR_URL` (ends with `/`). */
  url: string;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Serves `dir` read-only on 127.0.0.1 (a free port unless `port` is given). */
export function serveJsr(dir: string, port = 0): JsrServer {
  const root = dir.replace(/\/+$/, "");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request): Promise<Response> => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      if (path.split("/").includes("..") || path.includes("\0")) {
        return new Response("bad path", { status: 400 });
      }
      try {
        const body = await Deno.readFile(`${root}${path}`);
        return new Response(body, { headers: { "content-type": contentType(path) } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const close = async (): Promise<void> => {
    await server.shutdown().catch(() => {});
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** How long the JSR reachability probe may take. */
export const JSR_PROBE_TIMEOUT_MS = 3_000;

/** Whether https://jsr.io answers within {@linkcode JSR_PROBE_TIMEOUT_MS}. */
export async function jsrReachable(timeoutMs: number = JSR_PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const response = await fetch("https://jsr.io/@std/path/meta.json", {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? locateJsrDir();
  if (dir === undefined) {
    console.error("jsr_server: no shared/jsr found above the checkout; set CODEXD_JSR_DIR");
    Deno.exit(1);
  }
  const server = serveJsr(dir);
  console.log(server.url);
  const stop = (): void => {
    server.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
