/**
 * The one probe entry and the typed connect errors (`lib/app_server/probe.ts`,
 * `lib/app_server/handshake.ts`):
 * - nothing outside `lib/app_server/` reaches below `probe()`, and no file of
 *   `lib/` decides on an error's words;
 * - a failed connect says why by its `kind` (a table against tiny servers),
 *   and `connectForTurns` retries without `experimentalApi` on `refused` only;
 * - `update` and `apply-pending` honour the caller's `probeTimeoutMs`: the
 *   fake app-server answers `initialize` only after 3 s, longer than the
 *   default 2 s bound, so only a caller that passes its 30 s bound sees it
 *   answer. Nothing here asserts a duration.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { configureFake, fakeHome, REPO_ROOT, runCli, type TestHome } from "../support/helpers.ts";
import { connectAppServer, RpcError } from "../../lib/app_server/client.ts";
import { ConnectError, type ConnectFailure } from "../../lib/app_server/handshake.ts";
import { UnsafeSocketError } from "../../lib/app_server/socket_path.ts";
import { probe } from "../../lib/app_server/probe.ts";
import { retriesPlain } from "../../lib/idle/probe.ts";

const STATE = "app-server-daemon";
/** Longer than the default probe bound (2 s): a caller that drops its own bound misses the answer. */
const SLOW_INITIALIZE_MS = 3_000;
/** The caller's generous bound. */
const PATIENT_PROBE_MS = 30_000;
/** Settings that keep the updater's and applier's own passes out of the way. */
const QUIET = { updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 3600 } } };

/** Every `.ts` file under `dir` (relative to the repository), recursively. */
function tsFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(`${REPO_ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...tsFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

Deno.test("nothing outside lib/app_server/ reaches below probe(): initializeOnce is probe.ts's alone", () => {
  const lower = /\b(initializeOnce|isAnswering|probeAppServer)\b/;
  const offenders = [
    ...tsFiles("lib"),
    ...tsFiles("bench"),
    ...tsFiles("scripts"),
    ...tsFiles("examples"),
    "cli.ts",
    "mod.ts",
  ].filter((file) => !file.startsWith("lib/app_server/"))
    .filter((file) => lower.test(Deno.readTextFileSync(`${REPO_ROOT}/${file}`)));
  assertEquals(offenders, [], "call probe(ctx) from lib/app_server/probe.ts instead");
  const inside = tsFiles("lib/app_server")
    .filter((file) =>
      /(?<!function )\binitializeOnce\(/.test(Deno.readTextFileSync(`${REPO_ROOT}/${file}`))
    );
  assertEquals(inside, ["lib/app_server/probe.ts"]);
});

Deno.test("no file of lib/ decides on an error message's words", () => {
  const byWords = /\.message\.(startsWith|endsWith|includes)\(/;
  const offenders = tsFiles("lib")
    .filter((file) => byWords.test(Deno.readTextFileSync(`${REPO_ROOT}/${file}`)));
  assertEquals(offenders, [], "throw a typed error (e.g. ConnectError) and decide on its kind");
});

Deno.test("retriesPlain() retries without experimentalApi only when initialize was refused", () => {
  const table: [unknown, boolean][] = [
    [new ConnectError("refused", "initialize failed: unknown capability"), true],
    [new ConnectError("unreachable", "No such file or directory"), false],
    [new ConnectError("timeout", "timed out initializing on control socket /s"), false],
    [new ConnectError("unintelligible", 'app-server user agent has no version: ""'), false],
    // The words alone no longer decide.
    [new Error("initialize failed: unknown capability"), false],
    [new RpcError("initialize", -32600, "initialize failed"), false],
    [new UnsafeSocketError("socket directory /tmp/x is open to other users"), false],
    ["initialize failed", false],
  ];
  for (const [error, expected] of table) {
    assertEquals(retriesPlain(error), expected, String(error));
  }
});

/** How a tiny test server answers `initialize`. */
type Answer = "refuse" | "no version" | "not json" | "silent";

/** Serves one kind of answer on a Unix socket in a private temp dir. */
function tinyServer(dir: string, answer: Answer): Deno.HttpServer {
  return Deno.serve({ transport: "unix", path: `${dir}/s.sock`, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.method !== "initialize") return;
      if (answer === "refuse") {
        socket.send(JSON.stringify({ id: 1, error: { code: -32600, message: "no thanks" } }));
      } else if (answer === "no version") {
        socket.send(JSON.stringify({ id: 1, result: { userAgent: "nameless" } }));
      } else if (answer === "not json") {
        socket.send("hello");
      }
    };
    return response;
  });
}

Deno.test("a failed connect says why by its kind", async () => {
  const table: [Answer | "nothing listens", ConnectFailure][] = [
    ["nothing listens", "unreachable"],
    ["refuse", "refused"],
    ["no version", "unintelligible"],
    ["not json", "unintelligible"],
    ["silent", "timeout"],
  ];
  for (const [answer, kind] of table) {
    const dir = await Deno.makeTempDir({ prefix: "codexd-connect-" });
    const server = answer === "nothing listens" ? undefined : tinyServer(dir, answer);
    try {
      const error = await connectAppServer(`${dir}/s.sock`, { timeoutMs: 500 }).then(
        async (client) => {
          await client.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      assert(error instanceof ConnectError, `${answer}: ${error}`);
      assertEquals(error.kind, kind, `${answer}: ${error.message}`);
      // The probe reads every failure as "not answering".
      assertEquals(
        await probe({ paths: { socketPath: `${dir}/s.sock` }, options: { probeTimeoutMs: 500 } }),
        undefined,
      );
    } finally {
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value));
}

/** A pending update to the version that already runs: moot once the server is seen to answer. */
async function pendUpdateToRunning(home: string, version: string): Promise<void> {
  await writeJson(`${home}/${STATE}/pending-restart.json`, {
    kind: "update",
    toVersion: version,
    since: new Date().toISOString(),
    deadline: null,
    reason: `update -> ${version}`,
  });
}

/** A started fake app-server 1.0.0 with a turn running, that now answers `initialize` slowly. */
async function slowStartedHome(): Promise<TestHome> {
  const h = await fakeHome({ version: "1.0.0", activeTurns: 1 });
  try {
    await writeJson(`${h.home}/${STATE}/settings.json`, QUIET);
    const started = await runCli(h.home, ["start"]);
    assertEquals(started.json.status, "started", started.stdout + started.stderr);
    await configureFake(h.home, {
      version: "1.0.0",
      activeTurns: 1,
      initializeDelayMs: SLOW_INITIALIZE_MS,
    });
    return h;
  } catch (error) {
    await h[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test(
  "apply-pending probes with the caller's probeTimeoutMs: a slow server that answers in it makes the pending update moot",
  // In-process (the library call takes probeTimeoutMs); the fake runs as its own process.
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const { applyPendingRestart } = await import("../../lib/updater/apply_pending.ts");
    await using h = await slowStartedHome();
    // Control: with the default bound the slow answer is missed, so the
    // update does not look moot and waits for the busy server.
    await pendUpdateToRunning(h.home, "1.0.0");
    const missed = await applyPendingRestart({ codexHome: h.home, idleGapMs: 0 });
    assert(missed.status !== "cleared", JSON.stringify(missed));
    // With the caller's bound it sees 1.0.0 running: nothing to restart.
    const seen = await applyPendingRestart({
      codexHome: h.home,
      probeTimeoutMs: PATIENT_PROBE_MS,
      idleGapMs: 0,
    });
    assertEquals(seen.status, "cleared", JSON.stringify(seen));
  },
);

Deno.test(
  "update probes with the caller's probeTimeoutMs: a slow server that answers in it is seen and its restart deferred",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const { startTestRegistry } = await import("../fixtures/test_registry.ts");
    const { update } = await import("../../lib/update.ts");
    await using registry = await startTestRegistry([{ version: "2.0.0" }]);
    await using h = await slowStartedHome();
    // Missing the answer, update would take the server for gone and leave
    // 1.0.0 running with nothing pending.
    const result = await update({
      codexHome: h.home,
      registry: registry.url,
      probeTimeoutMs: PATIENT_PROBE_MS,
      idleGapMs: 0,
    });
    assertEquals(result.version, "2.0.0");
    assertEquals(result.runningVersion, "1.0.0", JSON.stringify(result));
    assertEquals(result.restartPending, true, JSON.stringify(result));
  },
);
