/**
 * Tests of the install.sh source against scripts served on loopback: the
 * guard environment the reference sets, the latest-channel check, plain and
 * guarded runs, failures with the stderr tail, and cancelling a script that
 * runs too long (its children and its mkdir lock included).
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { eventually, processesOfHome, TARGET } from "../support/helpers.ts";
import {
  installerEnv,
  installFromScript,
  latestChannelRelease,
} from "../../lib/install/install_sh.ts";
import { STDERR_TAIL_BYTES } from "../../lib/install/script_run.ts";
import { CodexdError } from "../../lib/errors.ts";
import { type DaemonPaths, daemonPaths } from "../../lib/state/paths.ts";

/** A loopback server answering every request with the current `body`. */
function scriptServer(): { url: string; body: string; requests: number } & AsyncDisposable {
  const state = {
    url: "",
    body: "",
    requests: 0,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    state.requests++;
    return new Response(state.body);
  });
  state.url = `http://127.0.0.1:${server.addr.port}/install.sh`;
  return state;
}

async function tempHome(): Promise<{ paths: DaemonPaths } & AsyncDisposable> {
  const home = await Deno.makeTempDir({ prefix: "codexd-sh-" });
  return {
    paths: daemonPaths(home),
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }),
  };
}

/**
 * A stand-in for install.sh: records its CODEX_* environment, honours the
 * latest-channel guard like install.sh does, lays out the release, swaps
 * `current` and writes or clears the marker.
 */
function layoutScript(version: string): string {
  return `set -eu
root="$CODEX_HOME/packages/standalone"
env | grep '^CODEX_' | sort > "$CODEX_HOME/installer-env"
if [ "\${CODEX_INSTALL_IF_LATEST:-0}" = 1 ]; then
  [ "$(cat "$root/auto-update-version" 2>/dev/null || true)" = "\${CODEX_UPDATE_FROM_RELEASE:-}" ] || exit 0
fi
name="${version}-${TARGET}"
mkdir -p "$root/releases/$name/bin"
printf '#!/bin/sh\\necho "codex-cli ${version}"\\n' > "$root/releases/$name/bin/codex"
chmod 755 "$root/releases/$name/bin/codex"
ln -sfn bin/codex "$root/releases/$name/codex"
ln -sfn "releases/$name" "$root/.current.$$"
mv -Tf "$root/.current.$$" "$root/current"
if [ "$CODEX_RELEASE" = latest ]; then printf '%s' "$name" > "$root/auto-update-version"
else rm -f "$root/auto-update-version"; fi
echo "Codex CLI ${version} installed successfully."
`;
}

async function recordedEnv(paths: DaemonPaths): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(`${paths.codexHome}/installer-env`);
  return Object.fromEntries(
    text.trim().split("\n").map((
      line,
    ) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

function installFailed(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof CodexdError && error.code === "INSTALL_FAILED" && pattern.test(error.message);
}

Deno.test("installerEnv() sets every guard variable the reference sets", () => {
  const fixed = {
    CODEX_HOME: "/h",
    CODEX_NON_INTERACTIVE: "1",
    CODEX_INSTALL_IF_CURRENT: "0",
    CODEX_INSTALL_DEFER_SELECTION: "0",
    CODEX_INSTALL_DAEMON_ONLY: "0",
  };
  assertEquals(installerEnv("/h", "install"), {
    ...fixed,
    CODEX_RELEASE: "latest",
    CODEX_INSTALL_IF_LATEST: "0",
    CODEX_UPDATE_FROM_RELEASE: "",
  });
  assertEquals(installerEnv("/h", "install", "", "0.169.0"), {
    ...fixed,
    CODEX_RELEASE: "0.169.0",
    CODEX_INSTALL_IF_LATEST: "0",
    CODEX_UPDATE_FROM_RELEASE: "",
  });
  assertEquals(installerEnv("/h", "update", `1.0.0-${TARGET}`, "0.169.0"), {
    ...fixed,
    CODEX_RELEASE: "latest",
    CODEX_INSTALL_IF_LATEST: "1",
    CODEX_UPDATE_FROM_RELEASE: `1.0.0-${TARGET}`,
  });
});

Deno.test("latestChannelRelease() accepts only a stable release named by the marker", async () => {
  const table: { name: string; marker?: string; expected: boolean }[] = [
    { name: `1.2.3-${TARGET}`, marker: `1.2.3-${TARGET}`, expected: true },
    { name: `1.2.3-${TARGET}`, expected: false }, // pinned: install.sh cleared the marker
    { name: `1.2.3-${TARGET}`, marker: `1.2.3-${TARGET}\n`, expected: false }, // exact, as the reference
    { name: `1.2.3-${TARGET}`, marker: `1.2.2-${TARGET}`, expected: false },
    { name: `1.3.0-alpha.1-${TARGET}`, marker: `1.3.0-alpha.1-${TARGET}`, expected: false },
    {
      name: "1.2.3-x86_64-unknown-linux-gnu",
      marker: "1.2.3-x86_64-unknown-linux-gnu",
      expected: false,
    },
    { name: "1.2.3-aarch64-apple-darwin", marker: "1.2.3-aarch64-apple-darwin", expected: true },
  ];
  for (const { name, marker, expected } of table) {
    await using home = await tempHome();
    const root = home.paths.standaloneDir;
    await Deno.mkdir(`${root}/releases/${name}`, { recursive: true });
    await Deno.symlink(`releases/${name}`, `${root}/current`);
    if (marker !== undefined) await Deno.writeTextFile(`${root}/auto-update-version`, marker);
    assertEquals(
      latestChannelRelease(home.paths),
      expected ? name : undefined,
      JSON.stringify({ name, marker }),
    );
  }
  await using empty = await tempHome();
  assertEquals(latestChannelRelease(empty.paths), undefined, "nothing installed");
});

Deno.test("installFromScript() runs the script on stdin with CODEX_HOME and the guard environment", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = layoutScript("4.0.0");
  const result = await installFromScript(home.paths, { scriptUrl: server.url });
  assertEquals(result, { version: "4.0.0", installed: true });
  assertEquals(
    await Deno.readLink(`${home.paths.standaloneDir}/current`),
    `releases/4.0.0-${TARGET}`,
  );
  assertEquals(await recordedEnv(home.paths), {
    CODEX_HOME: home.paths.codexHome,
    CODEX_INSTALL_DAEMON_ONLY: "0",
    CODEX_INSTALL_DEFER_SELECTION: "0",
    CODEX_INSTALL_IF_CURRENT: "0",
    CODEX_INSTALL_IF_LATEST: "0",
    CODEX_NON_INTERACTIVE: "1",
    CODEX_RELEASE: "latest",
    CODEX_UPDATE_FROM_RELEASE: "",
  });
  assertEquals(latestChannelRelease(home.paths), `4.0.0-${TARGET}`);
});

Deno.test("installFromScript() in update mode updates a latest-channel install with the guards", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = layoutScript("4.0.0");
  await installFromScript(home.paths, { scriptUrl: server.url });
  server.body = layoutScript("5.0.0");
  const result = await installFromScript(home.paths, { scriptUrl: server.url, mode: "update" });
  assertEquals(result, { version: "5.0.0", installed: true, previousRelease: `4.0.0-${TARGET}` });
  const env = await recordedEnv(home.paths);
  assertEquals(env.CODEX_INSTALL_IF_LATEST, "1");
  assertEquals(env.CODEX_UPDATE_FROM_RELEASE, `4.0.0-${TARGET}`);
  assertEquals(env.CODEX_RELEASE, "latest");
});

Deno.test("installFromScript() in update mode leaves a pinned install alone without fetching", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = layoutScript("4.0.0");
  await installFromScript(home.paths, { scriptUrl: server.url, release: "4.0.0" });
  assertEquals(latestChannelRelease(home.paths), undefined, "a pin clears the marker");
  const requests = server.requests;
  const result = await installFromScript(home.paths, { scriptUrl: server.url, mode: "update" });
  assertEquals(result.installed, false);
  assertEquals(result.version, "4.0.0");
  assertMatch(result.skipped ?? "", /not a latest-channel/);
  assertEquals(server.requests, requests);
});

Deno.test("installFromScript() in update mode refuses a script that does not know the guard", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = layoutScript("4.0.0");
  await installFromScript(home.paths, { scriptUrl: server.url });
  server.body = "echo 'an old installer'\n";
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: server.url, mode: "update" }),
    installFailed(/does not support guarded updates/),
  );
  assertEquals(
    await Deno.readLink(`${home.paths.standaloneDir}/current`),
    `releases/4.0.0-${TARGET}`,
  );
});

Deno.test("installFromScript() reports the exit code and the stderr tail as INSTALL_FAILED", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = "echo 'progress on stdout'\necho 'no disk space' >&2\nexit 7\n";
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: server.url }),
    installFailed(/install\.sh exited with code 7:\nno disk space$/),
  );
  // A chatty script: only the tail is kept, and a full stderr pipe never blocks it.
  server.body =
    'i=0; while [ $i -lt 2000 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; exit 3\n';
  let message = "";
  await installFromScript(home.paths, { scriptUrl: server.url }).catch((error) =>
    message = error.message
  );
  assertMatch(message, /exited with code 3:\n.*line 1999 of noise$/s);
  assert(message.length < STDERR_TAIL_BYTES + 200, `${message.length} chars`);
});

Deno.test("installFromScript() fails with INSTALL_FAILED when the script cannot be fetched", async () => {
  await using home = await tempHome();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("gone", { status: 500 }),
  );
  try {
    await assertRejects(
      () =>
        installFromScript(home.paths, {
          scriptUrl: `http://127.0.0.1:${server.addr.port}/install.sh`,
        }),
      installFailed(/Cannot fetch the installer .*: HTTP 500/),
    );
  } finally {
    await server.shutdown();
  }
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: "http://127.0.0.1:1/install.sh" }),
    installFailed(/Cannot fetch the installer http:\/\/127\.0\.0\.1:1\/install\.sh/),
  );
});

Deno.test("installFromScript() stops a script that runs too long, its children and its mkdir lock", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  const lock = `${home.paths.standaloneDir}/install.lock.d`;
  // Like install.sh without flock: a mkdir lock with its pid; TERM ignored, so only KILL ends it.
  server.body = `mkdir -p "${home.paths.standaloneDir}"; mkdir "${lock}"; echo $$ > "${lock}/pid"
trap '' TERM
echo 'downloading' >&2
sleep 30
`;
  const started = Date.now();
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: server.url, timeoutMs: 300 }),
    installFailed(/was stopped after 300 ms:\ndownloading$/),
  );
  assert(Date.now() - started < 6_000, "bounded by the timeout and the grace");
  assert(await eventually(() => processesOfHome(home.paths.codexHome).length === 0, 3_000));
  assertEquals(
    await Deno.stat(lock).then(() => true, () => false),
    false,
    "the dead shell's lock is removed",
  );
});

Deno.test("installFromScript() bounds the fetch: a server that never answers, an endless body, a file: URL", async () => {
  await using home = await tempHome();
  const closing = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      if (new URL(req.url).pathname === "/endless") {
        const body = new ReadableStream<Uint8Array>({
          pull: (controller) =>
            controller.enqueue(new TextEncoder().encode("# pad\n".repeat(4096))),
        });
        return new Response(body);
      }
      // Never answers until the test ends.
      return new Promise((resolve) =>
        closing.signal.addEventListener("abort", () => resolve(new Response("late")))
      );
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    await assertRejects(
      () => installFromScript(home.paths, { scriptUrl: `${base}/hang`, fetchTimeoutMs: 300 }),
      installFailed(/no answer within 300 ms/),
    );
    await assertRejects(
      () => installFromScript(home.paths, { scriptUrl: `${base}/endless` }),
      installFailed(/more than 1048576 bytes/),
    );
  } finally {
    closing.abort();
    await server.shutdown();
  }
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: "file:///etc/passwd" }),
    installFailed(/installer URL "file:\/\/\/etc\/passwd" is not an http\(s\) URL/),
  );
  await assertRejects(
    () => installFromScript(home.paths, { scriptUrl: "http://127.0.0.1:1/", release: "../../x" }),
    installFailed(/not a version/),
  );
});

Deno.test("installFromScript() stops a running script and its children when the signal aborts", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  const started = `${home.paths.codexHome}/started`;
  server.body = `touch "${started}"; sleep 30 & wait\n`;
  const controller = new AbortController();
  const run = installFromScript(home.paths, { scriptUrl: server.url, signal: controller.signal });
  assert(await eventually(() => Deno.stat(started).then(() => true, () => false), 10_000));
  controller.abort("SIGTERM");
  await assertRejects(
    () => run,
    (error) =>
      error instanceof CodexdError && error.code === "INTERRUPTED" &&
      /interrupted by SIGTERM/.test(error.message),
  );
  assert(await eventually(() => processesOfHome(home.paths.codexHome).length === 0, 3_000));
});

Deno.test("parallel installFromScript() runs: only the one that installed says installed", async () => {
  await using server = scriptServer();
  await using home = await tempHome();
  server.body = layoutScript("4.0.0");
  const results = await Promise.all([
    installFromScript(home.paths, { scriptUrl: server.url }),
    installFromScript(home.paths, { scriptUrl: server.url }),
  ]);
  assertEquals(results.map((r) => r.installed).sort(), [false, true]);
  assertEquals(results.map((r) => r.version), ["4.0.0", "4.0.0"]);
});
