/**
 * The pin part of an update pass: what `update --pin` / `--unpin` write to
 * `settings.json` (`updater.pinnedVersion`, under the daemon lock, after a
 * successful install) and how a pass that changed no release on a pinned
 * host reports (`status: "pinned"`).
 *
 * @module
 */
import type { DaemonContext } from "../server/context.ts";
import { pinView, readReferenceSelection } from "../state/pin.ts";
import { type DaemonSettings, updateSettings } from "../state/settings.ts";
import type { UpdateResult } from "./update_report.ts";

/** The flags of a pass that touch the pin. */
export interface PinFlags {
  /** `--version`, if given. */
  version?: string;
  /** `--pin`. */
  pin?: boolean;
  /** `--unpin`. */
  unpin?: boolean;
}

/** A pass that changed no release on a pinned host says `pinned`. */
export function pinnedStatus(result: UpdateResult): UpdateResult {
  if (result.status !== "noUpdate" || !result.pin) return result;
  const pin = result.pin;
  const reason = pin.by === "codexd"
    ? `pinned to ${pin.version}`
    : pin.by === "reference"
    ? `pinned by the reference to ${pin.release}`
    : "externalBinary";
  return { ...result, status: "pinned", reason };
}

/**
 * Under the lock, after a successful install: records `--pin` (the installed
 * version) or drops the pin for `--unpin`; warns when `--version` moved a
 * pinned host without moving its pin.
 */
export async function applyPinFlags(
  ctx: DaemonContext,
  settings: DaemonSettings,
  installedVersion: string,
  options: PinFlags,
): Promise<Pick<UpdateResult, "pin" | "pinChanged" | "warnings">> {
  const pinned = settings.updater.pinnedVersion;
  const selection = await readReferenceSelection(ctx.paths);
  if (options.pin && pinned !== installedVersion) {
    const next = await updateSettings(ctx.paths, { updater: { pinnedVersion: installedVersion } });
    return { pin: pinView(next, undefined, selection), pinChanged: true };
  }
  if (options.unpin && pinned !== undefined) {
    const next = await updateSettings(ctx.paths, { updater: { pinnedVersion: null } });
    return { pin: pinView(next, undefined, selection), pinChanged: true };
  }
  const pin = pinView(settings, undefined, selection);
  if (options.version !== undefined && pinned !== undefined && pinned !== installedVersion) {
    return {
      pin,
      warnings: [
        `pinned to ${pinned}: the next updater pass moves back to it (--pin moves the pin, --unpin follows the latest)`,
      ],
    };
  }
  return { pin };
}
