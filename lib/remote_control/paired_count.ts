/**
 * How many devices are paired with this host, for `start`, `restart` and
 * `bootstrap` with remote control on: one bounded `remoteControl/client/list`
 * page on a session already open, only when the server is `connected` (it
 * needs the environment). Never throws: `null` when it cannot be asked.
 * Touches no files.
 *
 * @module
 */
import type { AppServerClient } from "../app_server/client.ts";
import { resolveCodexHome } from "../state/paths.ts";
import { CLIENT_LIST_METHOD, parseClientPage } from "./pairing_protocol.ts";
import type { RemoteControlView } from "../app_server/remote_control.ts";

/**
 * Bound on the one list request (the server asks the backend): short, since
 * it sits on the start path.
 */
export const PAIRED_COUNT_TIMEOUT_MS = 3_000;
/** Page size asked; a host with more devices reports at least this many. */
export const PAIRED_COUNT_LIMIT = 100;

/** The number of paired devices, or `null` when the server cannot tell. */
export async function countPairedClients(
  client: AppServerClient,
  view: RemoteControlView,
  timeoutMs: number = PAIRED_COUNT_TIMEOUT_MS,
): Promise<number | null> {
  if (view.status !== "connected" || !view.environmentId) return null;
  try {
    const page = parseClientPage(
      await client.request(
        CLIENT_LIST_METHOD,
        { environmentId: view.environmentId, limit: PAIRED_COUNT_LIMIT },
        timeoutMs,
      ),
    );
    return page ? page.data.length : null;
  } catch {
    return null;
  }
}

/** ` --codex-home DIR` unless `codexHome` is the default one (for hints). */
export function codexHomeFlag(codexHome: string): string {
  let fallback: string | undefined;
  try {
    fallback = resolveCodexHome();
  } catch {
    fallback = undefined;
  }
  return codexHome === fallback ? "" : ` --codex-home ${codexHome}`;
}

/** The warning for a connected host that nobody can reach yet; `undefined` otherwise. */
export function noPairedClientsWarning(
  pairedClients: number | null | undefined,
  codexHome: string,
): string | undefined {
  return pairedClients === 0
    ? `no device is paired with this host yet; pair one with: codexd pair${
      codexHomeFlag(codexHome)
    }`
    : undefined;
}
