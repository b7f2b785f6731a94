/**
 * Autostart's macOS I/O: load and unload the LaunchAgent with `launchctl`
 * (bounded, killed at the deadline). The agent goes into `gui/UID` when the
 * user has a GUI login, else into `user/UID` (an SSH session). Untested on
 * real macOS (README): the plist and the command lines are pure functions in
 * `unit.ts`, tested by tables.
 *
 * Touches: nothing itself; `launchctl` reads `~/Library/LaunchAgents/<label>.plist`.
 *
 * @module
 */
import { CodexdError } from "../errors.ts";
import { helperError, runHelper } from "./exec.ts";
import { launchctlBootoutArgs, launchctlBootstrapArgs, launchdDomain } from "./unit.ts";

/** Bound of one `launchctl` call. */
export const LAUNCHCTL_TIMEOUT_MS = 30_000;
/** Where macOS keeps launchctl. */
export const LAUNCHCTL_PATH = "/bin/launchctl";

async function launchctl(args: string[], timeoutMs: number): Promise<ReturnType<typeof runHelper>> {
  return await runHelper(LAUNCHCTL_PATH, args, { timeoutMs });
}

/** The domain this user's agents load into: `gui/UID` with a GUI login, else `user/UID`. */
export async function currentDomain(timeoutMs = LAUNCHCTL_TIMEOUT_MS): Promise<string> {
  const uid = Deno.uid() ?? 0;
  const gui = await launchctl(["print", `gui/${uid}`], timeoutMs);
  return launchdDomain(uid, gui.success);
}

/**
 * (Re)loads the agent: unloads a loaded copy (ignoring "not loaded"), then
 * bootstraps the plist, which runs it (`RunAtLoad`).
 *
 * @throws {CodexdError} `AUTOSTART_UNAVAILABLE` when launchctl refuses.
 */
export async function loadAgent(
  plistPath: string,
  label: string,
  timeoutMs = LAUNCHCTL_TIMEOUT_MS,
): Promise<string> {
  const domain = await currentDomain(timeoutMs);
  await launchctl(launchctlBootoutArgs(domain, label), timeoutMs);
  const run = await launchctl(launchctlBootstrapArgs(domain, plistPath), timeoutMs);
  if (!run.success) {
    throw new CodexdError(
      "AUTOSTART_UNAVAILABLE",
      `Cannot load the LaunchAgent ${plistPath} into ${domain}: ${helperError(run)}`,
      `launchctl bootstrap ${domain} ${plistPath}`,
    );
  }
  return domain;
}

/** Unloads the agent if it is loaded; "not loaded" is success. */
export async function unloadAgent(label: string, timeoutMs = LAUNCHCTL_TIMEOUT_MS): Promise<void> {
  const domain = await currentDomain(timeoutMs);
  await launchctl(launchctlBootoutArgs(domain, label), timeoutMs);
}
