/**
 * Installing codex with the official `install.sh` (the reference's source):
 * the script is fetched and run with `/bin/sh -s` (script on stdin, no TTY)
 * with `CODEX_HOME` set, so it lays out `packages/standalone/releases/…`,
 * swaps `current` and holds `install.lock` itself.
 *
 * @module
 */
import { CodexdError, describeError } from "./errors.ts";
import { tryReadBinaryFacts } from "./managed_binary.ts";
import { locateBinary } from "./managed_binary.ts";
import type { DaemonPaths } from "./paths.ts";

/** Where the official installer lives. */
export const INSTALL_SCRIPT_URL = "https://chatgpt.com/codex/install.sh";
/** Bound on one installer run. */
export const INSTALL_SCRIPT_TIMEOUT_MS = 15 * 60_000;

/** Options for {@linkcode installFromScript}. */
export interface ScriptInstallOptions {
  /** @default {INSTALL_SCRIPT_URL} */
  scriptUrl?: string;
  /** @default {INSTALL_SCRIPT_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** What {@linkcode installFromScript} did. */
export interface ScriptInstallResult {
  /** The managed binary's version afterwards, when readable. */
  version?: string;
  /** Whether the managed binary changed. */
  installed: boolean;
}

/**
 * Runs the official installer for this CODEX_HOME.
 *
 * @throws {CodexdError} `INSTALL_FAILED` with the script's stderr tail.
 */
export async function installFromScript(
  paths: DaemonPaths,
  options: ScriptInstallOptions = {},
): Promise<ScriptInstallResult> {
  const { scriptUrl = Deno.env.get("CODEXD_INSTALL_SCRIPT_URL") ?? INSTALL_SCRIPT_URL } = options;
  const { timeoutMs = INSTALL_SCRIPT_TIMEOUT_MS } = options;
  const before = await tryReadBinaryFacts(paths, locateBinary(paths).path);
  let script: Uint8Array;
  try {
    const response = await fetch(scriptUrl, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    script = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new CodexdError(
      "INSTALL_FAILED",
      `Cannot fetch the installer ${scriptUrl}: ${describeError(error)}`,
      "codexd update --source npm",
    );
  }
  const child = new Deno.Command("/bin/sh", {
    args: ["-s"],
    env: { CODEX_HOME: paths.codexHome },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(script).catch(() => {});
    await writer.close().catch(() => {});
    const output = await child.output();
    if (!output.success) {
      const tail = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
      throw new CodexdError(
        "INSTALL_FAILED",
        `Cannot install codex: ${scriptUrl} exited with code ${output.code}${
          tail ? `:\n${tail}` : ""
        }`,
        "codexd update --source npm",
      );
    }
  } finally {
    clearTimeout(timer);
  }
  const after = await tryReadBinaryFacts(paths, locateBinary(paths).path);
  return { version: after?.version, installed: after?.version !== before?.version };
}
