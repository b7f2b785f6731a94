/**
 * An automation script: make sure the app-server runs for a CODEX_HOME,
 * print its version, and turn codexd's error codes into actionable exits.
 *
 * Usage: `deno run -A examples/ensure_running.ts [CODEX_HOME]`
 *
 * @module
 */
import { CodexdError, start, version } from "../mod.ts";

const codexHome = Deno.args[0] ?? Deno.env.get("CODEX_HOME");

try {
  const started = await start({ codexHome });
  const { appServerVersion } = await version({ codexHome });
  console.log(
    `app-server ${appServerVersion} ${
      started.status === "started" ? `started as pid ${started.pid}` : "was already running"
    }`,
  );
} catch (error) {
  if (!(error instanceof CodexdError)) throw error;
  switch (error.code) {
    case "BINARY_MISSING":
      console.error(`codex is not installed; run: ${error.hint}`);
      Deno.exit(10);
      break;
    case "LOCK_TIMEOUT":
      console.error(`another codexd command is stuck: ${error.message}`);
      Deno.exit(11);
      break;
    default:
      console.error(`${error.code}: ${error.message}`);
      Deno.exit(1);
  }
}
