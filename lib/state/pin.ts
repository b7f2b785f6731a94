/**
 * Which codex release a host is pinned to, and by whom: codexd's own pin
 * (`updater.pinnedVersion` in `settings.json`, set by `update --version X
 * --pin`), an external binary (`codexBin`: codexd never replaces it, so it
 * counts as pinned to that binary), or the reference's selection in its
 * package (`packages/app-server-daemon/`): there `current` names the selected
 * release and `auto-update-version` names it too only while the reference
 * follows the latest. `update --from-cli --yes` selects a
 * `releases/local-<digest>-<target>` copy and deletes the marker — a pin
 * codexd reads and never overrides. (`selection-history` beside them is the
 * reference's own log; the two files above decide, as in the reference's
 * own eligibility check.)
 *
 * Reads only: two readlink/read calls, cheap enough for `status`.
 *
 * @module
 */
import { readTextIfPresent } from "./atomic_file.ts";
import { type DaemonPaths, join } from "./paths.ts";
import type { DaemonSettings } from "./settings.ts";

/** The reference's package root under CODEX_HOME. */
export function referencePackageDir(paths: DaemonPaths): string {
  return join(paths.codexHome, "packages", "app-server-daemon");
}

/** The reference's selection in its package, as read from disk. */
export interface ReferenceSelection {
  /** The release `current` names (its last path component). */
  release: string;
  /** What `auto-update-version` holds, when present. */
  autoUpdateVersion?: string;
}

/** Who pins the host's codex, if anyone. */
export type PinView =
  /** `update --version X --pin`: the updater installs and runs exactly `version`. */
  | { by: "codexd"; version: string }
  /** An external binary (`codexBin`): codexd runs whatever it is and never replaces it. */
  | { by: "codexBin"; path: string }
  /** The reference selected a release in its package and does not follow the latest. */
  | { by: "reference"; release: string; version: string | null };

/**
 * Reads the reference's selection; `undefined` when its package has no
 * `current`.
 */
export async function readReferenceSelection(
  paths: DaemonPaths,
): Promise<ReferenceSelection | undefined> {
  const root = referencePackageDir(paths);
  let target: string;
  try {
    target = await Deno.readLink(join(root, "current"));
  } catch {
    return undefined;
  }
  const release = target.replace(/\/+$/, "").split("/").at(-1) ?? "";
  const marker = (await readTextIfPresent(join(root, "auto-update-version")).catch(() => undefined))
    ?.trim();
  return { release, ...(marker !== undefined ? { autoUpdateVersion: marker } : {}) };
}

/** The version in a release directory name `<version>-<target>`, or `null` (`local-…`). */
export function releaseVersion(release: string): string | null {
  const match = /^(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)-(x86_64|aarch64)-/.exec(release);
  return match ? match[1] : null;
}

/**
 * Whether the reference pinned its package: a selection whose marker does
 * not name it (the reference's own rule for "follows the latest").
 */
export function referencePinned(selection: ReferenceSelection | undefined): boolean {
  return selection !== undefined && selection.release !== "" &&
    selection.autoUpdateVersion !== selection.release;
}

/**
 * The pin in force (pure; tested by a table). An external binary wins (it
 * is what runs), then codexd's own pin, then the reference's.
 */
export function pinView(
  settings: DaemonSettings,
  codexBin: string | undefined,
  selection: ReferenceSelection | undefined,
): PinView | null {
  if (codexBin !== undefined) return { by: "codexBin", path: codexBin };
  const version = settings.updater.pinnedVersion;
  if (version !== undefined) return { by: "codexd", version };
  if (selection !== undefined && referencePinned(selection)) {
    return {
      by: "reference",
      release: selection.release,
      version: releaseVersion(selection.release),
    };
  }
  return null;
}

/** What the update pass does about the pin (pure; tested by a table). */
export type PinnedPassDecision =
  /** Install `version` (`latest` or exact) and restart onto it as usual. */
  | { kind: "install"; version: string }
  /** Change nothing and report `pinned`. */
  | { kind: "report"; reason: string };

/** The inputs of {@linkcode decidePinnedPass}. */
export interface PinnedPassInput {
  /** The pin in force before the pass. */
  pin: PinView | null;
  /** `--version`, if given. */
  version?: string;
  /** `--unpin` (drops codexd's pin). */
  unpin?: boolean;
  /** Run by the updater loop (not a user). */
  updaterPass?: boolean;
}

/**
 * What one update pass installs under a pin:
 * - an explicit `--version` installs it (a user's word beats any pin);
 * - `--unpin` follows the latest again (codexd's pin only);
 * - a codexd pin: the updater pass installs exactly it (reinstalling it when
 *   removed); a user's bare `update` reports `pinned` and changes nothing;
 * - the reference's pin: nothing is installed or restarted (its selection wins).
 */
export function decidePinnedPass(input: PinnedPassInput): PinnedPassDecision {
  if (input.version !== undefined) return { kind: "install", version: input.version };
  const pin = input.pin;
  if (pin === null || pin.by === "codexBin") return { kind: "install", version: "latest" };
  if (pin.by === "codexd") {
    if (input.unpin) return { kind: "install", version: "latest" };
    return input.updaterPass
      ? { kind: "install", version: pin.version }
      : { kind: "report", reason: `pinned to ${pin.version}` };
  }
  return { kind: "report", reason: `pinned by the reference to ${pin.release}` };
}
