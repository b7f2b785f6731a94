/**
 * Lays this checkout out as JSR publishes it, as `@codexd/daemon` in a
 * registry folder (`meta.json`, `<version>_meta.json` with the manifest and
 * the exports, the files), so the README's one-liner and library import can
 * be run as written against a local registry (tests/distribution/jsr_one_liner_test.ts).
 *
 * As `deno publish` does, bare specifiers mapped in deno.json `imports`
 * (`@std/semver`, `@cliffy/command/completions`) are rewritten to the
 * versioned `jsr:` specifiers they map to.
 *
 * @module
 */
import { walk } from "@std/fs/walk";
import { REPO_ROOT } from "./jsr_server.ts";

/** deno.json's fields this layout reads. */
interface DenoJson {
  name: string;
  version: string;
  exports: Record<string, string>;
  imports?: Record<string, string>;
  publish?: { include?: string[] };
}

/** Specifiers in `import`/`export … from`, bare `import "…"` and `import("…")`. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g;

/**
 * Rewrites bare specifiers that `imports` maps (exactly, or as a prefix
 * followed by `/`, as Deno resolves a `jsr:` entry's subpaths). Pure.
 */
export function rewriteSpecifiers(source: string, imports: Record<string, string>): string {
  return source.replace(SPECIFIER, (whole, lead: string, quote: string, specifier: string) => {
    for (const [key, target] of Object.entries(imports)) {
      if (specifier === key) return `${lead}${quote}${target}${quote}`;
      if (specifier.startsWith(`${key}/`)) {
        return `${lead}${quote}${target}${specifier.slice(key.length)}${quote}`;
      }
    }
    return whole;
  });
}

/** Reads deno.json of `repo`. */
export function readDenoJson(repo: string = REPO_ROOT): DenoJson {
  return JSON.parse(Deno.readTextFileSync(`${repo}/deno.json`));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes the checkout as `<registry>/@scope/name/…`; returns the package's version. */
export async function layoutPackage(registry: string, repo: string = REPO_ROOT): Promise<string> {
  const config = readDenoJson(repo);
  const [scope, name] = config.name.replace(/^@/, "").split("/");
  const pkg = `${registry}/@${scope}/${name}`;
  const base = `${pkg}/${config.version}`;
  const manifest: Record<string, { size: number; checksum: string }> = {};
  const encoder = new TextEncoder();
  for (const include of config.publish?.include ?? ["."]) {
    const top = `/${include.replace(/\/$/, "")}`;
    const files: string[] = [];
    if (Deno.statSync(`${repo}${top}`).isDirectory) {
      for await (const entry of walk(`${repo}${top}`, { includeDirs: false })) {
        files.push(entry.path.slice(repo.length));
      }
    } else files.push(top);
    for (const file of files) {
      let bytes = Deno.readFileSync(`${repo}${file}`);
      if (/\.(ts|js|mjs|mts)$/.test(file)) {
        bytes = encoder.encode(
          rewriteSpecifiers(new TextDecoder().decode(bytes), config.imports ?? {}),
        );
      }
      await Deno.mkdir(`${base}${file.slice(0, file.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeFile(`${base}${file}`, bytes);
      manifest[file] = { size: bytes.length, checksum: `sha256-${await sha256(bytes)}` };
    }
  }
  await Deno.writeTextFile(
    `${pkg}/meta.json`,
    JSON.stringify({ scope, name, latest: config.version, versions: { [config.version]: {} } }),
  );
  await Deno.writeTextFile(
    `${pkg}/${config.version}_meta.json`,
    JSON.stringify({ manifest, exports: config.exports }),
  );
  return config.version;
}
