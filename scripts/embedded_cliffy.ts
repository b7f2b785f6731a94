/**
 * Keeps @cliffy/command inside the one-file bundle without every call paying
 * for it: Cliffy goes in as a string, evaluated only when a command line
 * needs parsing.
 *
 * Why: loading a module costs by its size even where its code never runs —
 * V8 deserializes every function of the bundle from the code cache. Cliffy
 * (with its table and completion generators) is 74 KB of the 270 KB bundle;
 * as code it cost `version` and `start` ~0.7-0.9 ms per call (measured
 * against the same bundle with it as a string), while V8 only scans past a
 * string. The hot commands given alone (`version`, `start`, `status`,
 * `stop`, `restart`) never evaluate it; any other command line does, once
 * (~3 ms: Cliffy was compiled on first use before too, now without V8's
 * code cache). Measured and dropped: the string gzipped (inflating it
 * through web streams cost ~11 ms per call) and imported as a `data:` module
 * (~10 ms against ~3 ms for an indirect `eval`).
 *
 * Cliffy is bundled on its own as CommonJS (no imports, one `module.exports`),
 * the main bundle with Cliffy external; its two `import()`s of Cliffy are
 * then replaced, at the same length so the source map's positions still
 * hold, by a call of the loader appended at the end.
 *
 * @module
 */

import { denoBundle } from "./deno_bundle.ts";

/** What `cli.ts` uses of Cliffy at run time: the one module the loader returns. */
const ENTRY = [
  'export { Command, EnumType, ValidationError } from "@cliffy/command";',
  'export { CompletionsCommand, generateShellCompletions } from "@cliffy/command/completions";',
  "",
].join("\n");

/** The specifiers `cli.ts` imports Cliffy by, external to the main bundle. */
export const CLIFFY_SPECIFIERS = ["@cliffy/command", "@cliffy/command/completions"];

/** The loader's name in the bundle (a global no minified name can take: `$` is not first). */
const LOADER = "__codexdCliffy";

/** Bundles Cliffy's used exports into one minified CommonJS script, with the checkout's import map. */
export async function bundleCliffy(root: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "codexd-cliffy-" });
  try {
    await Deno.writeTextFile(`${dir}/entry.ts`, ENTRY);
    await denoBundle(
      [
        "--format",
        "cjs",
        "--config",
        `${root}/deno.json`,
        "-o",
        `${dir}/cliffy.js`,
        `${dir}/entry.ts`,
      ],
      root,
    );
    const code = await Deno.readTextFile(`${dir}/cliffy.js`);
    // Evaluated as a script: nothing of a module's may be in it.
    if (/\brequire\(|\bimport\.meta\b|\bimport\(/.test(code)) {
      throw new Error("Cliffy's bundle imports something: it cannot be evaluated as a script");
    }
    return code;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The loader appended to the bundle: evaluates Cliffy once per process and
 * returns its exports. The source sits in a function never compiled on the
 * hot paths, so V8 only scans past it.
 */
export function loaderSource(cliffy: string): string {
  const script = `(function(module){"use strict";${cliffy}\nreturn module.exports})({exports:{}})`;
  return `function ${LOADER}Source(){return${JSON.stringify(script)}}var ${LOADER}Module;` +
    `function ${LOADER}(){return ${LOADER}Module??=Promise.resolve().then(()=>(0,eval)(${LOADER}Source()))}\n`;
}

/**
 * Replaces each `import("<Cliffy specifier>")` in `code` by a call of the
 * loader, padded to the same length (positions after it stay valid).
 *
 * @throws {Error} when an import is not there exactly once: `cli.ts`'s
 * imports of Cliffy changed, and this step with them.
 */
export function callLoader(code: string): string {
  let out = code;
  for (const specifier of CLIFFY_SPECIFIERS) {
    const call = `import(${JSON.stringify(specifier)})`;
    const parts = out.split(call);
    if (parts.length !== 2) {
      throw new Error(`expected one ${call} in the bundle, found ${parts.length - 1}`);
    }
    out = parts.join(`${LOADER}()`.padEnd(call.length, " "));
  }
  return out;
}
