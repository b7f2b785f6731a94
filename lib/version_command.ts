/**
 * `version`: ask the running app-server for its version. Takes no lock and
 * writes nothing.
 *
 * @module
 */
import { readServerState, type ServerState } from "./server/server_record.ts";
import {
  binaryFor,
  createContext,
  type DaemonContext,
  type DaemonOptions,
  probe,
} from "./server/context.ts";
import { CodexdError } from "./errors.ts";
import { socketProblem } from "./app_server/socket_path.ts";
import {
  type BinaryFacts,
  cachedBinaryFacts,
  type ManagedBinary,
} from "./server/managed_binary.ts";
import { buildResult, type LifecycleResult } from "./server/result.ts";
import { loadSettingsLenient } from "./state/settings.ts";
import { takeListing } from "./state/listing.ts";

/** What `version` reads besides the server's answer. */
interface VersionFiles {
  binary: ManagedBinary;
  state: ServerState;
  facts: BinaryFacts | undefined;
}

/** Reads {@linkcode VersionFiles} under one listing of the state dir. */
async function readFiles(ctx: DaemonContext): Promise<VersionFiles> {
  // One listing says whether settings.json is there: a home only ever started
  // has none, and a failed stat costs ~0.4 ms the first time (listing.ts).
  const forgetListing = takeListing(ctx.paths.stateDir);
  try {
    const settings = await loadSettingsLenient(ctx.paths);
    const binary = binaryFor(ctx, settings);
    // Facts from the cache only: `version` never runs the binary (it may hang).
    const [state, facts] = await Promise.all([
      readServerState(ctx.paths),
      cachedBinaryFacts(ctx.paths, binary.path),
    ]);
    return { binary, state, facts };
  } finally {
    forgetListing();
  }
}

/**
 * Asks the running app-server for its version. Takes no lock.
 *
 * @throws {CodexdError} `NOT_RUNNING` when nothing answers.
 * @example
 * ```ts ignore
 * import { version } from "./version_command.ts";
 * const { appServerVersion } = await version();
 * ```
 */
export async function version(options: DaemonOptions = {}): Promise<LifecycleResult> {
  const ctx = createContext(options);
  // The probe starts first: its connect is under way while the files are read.
  const probing = probe(ctx);
  const { binary, state, facts } = await readFiles(ctx);
  const info = await probing;
  if (info === undefined) {
    // Say why when the socket was refused as an impostor's.
    const problem = socketProblem(ctx.paths.socketPath);
    throw new CodexdError(
      "NOT_RUNNING",
      `No app-server answers on ${ctx.paths.socketPath}${problem ? ` (refused: ${problem})` : ""}`,
      "codexd start",
      problem ? { socketUnsafe: problem } : undefined,
    );
  }
  return await buildResult(ctx, binary, "running", {
    ...(state.kind === "running" ? { backend: "pid" as const, pid: state.record.pid } : {}),
    appServerVersion: info.appServerVersion,
  }, facts);
}
