/**
 * Turning a downloaded npm platform tarball into a release directory and
 * checking a release: the members checked before extraction, extraction
 * with the system `tar` into a work directory, the `vendor/<target>/` tree it must carry, and the binary's
 * `--version`. Touches only the directories it is given.
 *
 * @module
 */
import { parseCliVersion } from "../server/managed_binary.ts";
import { join } from "../state/paths.ts";
import { INSTALL_STEP_TIMEOUT_MS, installFailed, runBounded } from "./step.ts";
import { scanTarball, type TarLimits } from "./tar_scan.ts";

/** The package that carries codex on npm. */
export const CODEX_PACKAGE = "@openai/codex";

/**
 * The system tar by absolute path: a non-interactive SSH session's PATH may
 * be bare or empty, and codexd must not depend on it.
 */
function systemTar(): string {
  for (const candidate of ["/usr/bin/tar", "/bin/tar", "/usr/local/bin/tar"]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // try the next
    }
  }
  return "tar";
}

/** Options of {@linkcode extractPackage}. */
export interface ExtractOptions extends TarLimits {
  /** Aborts tar. */
  signal?: AbortSignal;
}

/**
 * Checks `tarball` member by member (`tar_scan.ts`), extracts it into `into`
 * (an empty directory) without the archive's owners, and returns the
 * package's `vendor/<target>` directory.
 *
 * @throws {CodexdError} `INSTALL_FAILED` when the archive is refused, tar
 * fails or the layout is wrong.
 */
export async function extractPackage(
  tarball: string,
  into: string,
  target: string,
  what: { url: string; version: string },
  options: ExtractOptions = {},
): Promise<string> {
  try {
    await scanTarball(tarball, options, options.signal);
  } catch (error) {
    options.signal?.throwIfAborted();
    throw installFailed(`extract ${what.url}: refused`, error);
  }
  const untar = await runBounded(
    systemTar(),
    ["-xzf", tarball, "-C", into, "--no-same-owner"],
    INSTALL_STEP_TIMEOUT_MS,
    options.signal,
  );
  options.signal?.throwIfAborted();
  if (!untar.success) {
    throw installFailed(`extract ${what.url}: ${untar.stderr.trim().slice(-300)}`);
  }
  const vendor = join(into, "package", "vendor", target);
  try {
    await Deno.stat(join(vendor, "bin", "codex"));
  } catch {
    const legacy = await Deno.stat(join(vendor, "codex", "codex")).then(() => true, () => false);
    throw installFailed(
      legacy
        ? `${CODEX_PACKAGE}@${what.version} uses the older vendor/${target}/codex/codex layout; install a newer version`
        : `the package has no vendor/${target}/bin/codex`,
    );
  }
  return vendor;
}

/**
 * Checks a release directory holds a codex that reports `version`. Accepts
 * both layouts under `current`: `bin/codex` (npm package, install.sh
 * "package") and `codex` at the top (install.sh "legacy-platform-npm").
 * Returns what is wrong, or `undefined`.
 */
export async function checkRelease(
  dir: string,
  version: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  let bin = join(dir, "bin", "codex");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(bin);
  } catch {
    bin = join(dir, "codex");
    try {
      info = await Deno.stat(bin);
    } catch {
      return `${join(dir, "bin", "codex")} is missing`;
    }
  }
  if (!info.isFile) return `${bin} is not a file`;
  if (((info.mode ?? 0o755) & 0o111) === 0) return `${bin} is not executable`;
  const probe = await runBounded(bin, ["--version"], INSTALL_STEP_TIMEOUT_MS, signal);
  const reported = parseCliVersion(probe.stdout);
  if (!probe.success || reported !== version) {
    const printed = (probe.stdout + probe.stderr).trim().slice(0, 100);
    return `${bin} --version printed "${printed}", expected codex-cli ${version}`;
  }
  return undefined;
}
