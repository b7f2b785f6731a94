/**
 * The one-liner over a real SSH session, exactly as a desktop client runs it:
 * a throwaway OpenSSH server on 127.0.0.1, a non-interactive session with no
 * TTY and the bare PATH sshd gives (`/usr/local/bin:/usr/bin:/bin`), codexd
 * fetched from a URL (a loopback HTTP server standing in for JSR), and the
 * single JSON line on stdout parsed. The app-server must outlive the session.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { processesOfHome, serveRepo } from "../support/helpers.ts";
import { REAL_CODEX_VERSION, realHome } from "../support/real_codex.ts";
import { sshdMissing, startSshd } from "../support/sshd.ts";
import { jsrEnv, needs } from "../support/host.ts";

const BARE_PATH = "/usr/local/bin:/usr/bin:/bin";
/** The Deno version README's setup line installs. */
const DENO_VERSION = "2.9.6";

/**
 * The variables npm needs to reach its registry on this machine (a CA bundle,
 * a proxy), which `env -i` would otherwise drop: the host's own facts, not
 * part of the setup line.
 */
function npmNetworkEnv(): string {
  const names = [
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
  ];
  return names.flatMap((name) => {
    const value = Deno.env.get(name);
    return value ? [`${name}='${value.replaceAll("'", "")}'`] : [];
  }).join(" ");
}

/** README's setup line, verbatim (the first `sh` block of "Quick start"). */
function setupLine(): string {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const block = /## Quick start[\s\S]*?```sh\n([^\n]+)\n```/.exec(readme);
  if (!block) throw new Error("README has no setup line");
  return block[1];
}

/** `deno` as the bare PATH finds it, else its absolute path. */
function denoCommand(): string {
  for (const dir of BARE_PATH.split(":")) {
    try {
      if (Deno.realPathSync(`${dir}/deno`) === Deno.realPathSync(Deno.execPath())) return "deno";
    } catch {
      // not there
    }
  }
  return Deno.execPath();
}

function parseOneJsonLine(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n").filter((line) => line !== "");
  assertEquals(lines.length, 1, `stdout must be exactly one JSON line: ${stdout}`);
  return JSON.parse(lines[0]);
}

Deno.test({
  name: "the one-liner works over a real non-interactive SSH session",
  ...needs(await sshdMissing()),
}, async (t) => {
  const sshd = await startSshd();
  if ("skipped" in sshd) throw new Error(sshd.skipped);
  await using session = sshd;
  await using h = await realHome();
  const server = serveRepo();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/mod.ts`;
    // Where JSR is unreachable, the on-disk registry's loopback server resolves jsr: imports.
    const jsrUrl = Object.entries(jsrEnv()).map(([k, v]) => ` ${k}=${v}`).join("");
    // `env -i` gives the remote command sshd's bare PATH and nothing from
    // shell start-up files, as on a stock host.
    const oneLiner = (command: string): string =>
      `env -i HOME="$HOME" PATH=${BARE_PATH} CODEX_HOME='${h.home}'${jsrUrl} ${denoCommand()} run -A ${url} ${command}`;

    await t.step("start answers with one JSON object and returns", async () => {
      const start = await session.run(oneLiner("start"));
      assertEquals(start.code, 0, start.stderr);
      const json = parseOneJsonLine(start.stdout);
      assertEquals(json.status, "started");
      assertEquals(json.appServerVersion, REAL_CODEX_VERSION);
    });
    await t.step("the app-server outlives the session and version reports it", async () => {
      const version = await session.run(oneLiner("version"));
      assertEquals(version.code, 0, version.stderr);
      const json = parseOneJsonLine(version.stdout);
      assertEquals(json.status, "running");
      assertEquals(json.appServerVersion, REAL_CODEX_VERSION);
    });
    await t.step("an error is one JSON object too, with its code", async () => {
      const bad = await session.run(oneLiner("frobnicate"));
      assertEquals(bad.code, 2);
      assertEquals(parseOneJsonLine(bad.stdout).code, "USAGE");
      assertMatch(bad.stderr, /^Error: Unknown command/m);
    });
    await t.step("bootstrap returns promptly and its updater outlives the session", async () => {
      const boot = await session.run(oneLiner("bootstrap --remote-control"), { timeoutMs: 60_000 });
      assertEquals(boot.code, 0, boot.stderr);
      const json = parseOneJsonLine(boot.stdout);
      assertEquals(json.status, "bootstrapped");
      assertEquals(json.remoteControlEnabled, true);
      const status = parseOneJsonLine((await session.run(oneLiner("status"))).stdout);
      assertEquals((status.updater as Record<string, unknown>).running, true);
      assertEquals(status.status, "running");
    });
    await t.step("README's setup line turns a Node-wrapped deno into the native one", async () => {
      // A global npm prefix holding only the Node wrapper, as `npm install -g`
      // leaves it when the package's install script did not run.
      const prefix = await Deno.makeTempDir({ prefix: "codexd-npm-prefix-" });
      try {
        const seed = await new Deno.Command("npm", {
          args: [
            "install",
            "-g",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            `deno@${DENO_VERSION}`,
          ],
          env: { npm_config_prefix: prefix },
          stdout: "null",
          stderr: "piped",
        }).output();
        // CI reaches npm: a failed seed is a failure, not a skip.
        assert(seed.success, `npm cannot install deno: ${new TextDecoder().decode(seed.stderr)}`);
        assertMatch(Deno.realPathSync(`${prefix}/bin/deno`), /bin\.cjs$/);
        const setup = setupLine().replace(/; CODEX_HOME=.*$/, "");
        const run = await session.run(
          `env -i HOME="$HOME" PATH=${prefix}/bin:${BARE_PATH} npm_config_prefix=${prefix} ${npmNetworkEnv()} sh -c '${
            setup.replaceAll("'", `'"'"'`)
          }; head -c4 "$(command -v deno)" | od -c | head -n1'`,
          { timeoutMs: 180_000 },
        );
        assertEquals(run.code, 0, run.stderr);
        assertMatch(run.stdout, /177\s+E\s+L\s+F/);
      } finally {
        await Deno.remove(prefix, { recursive: true });
      }
    });
    await t.step("stop --all stops the app-server and the updater", async () => {
      const stop = await session.run(oneLiner("stop --all"));
      const json = parseOneJsonLine(stop.stdout);
      assertEquals(json.status, "stopped");
      assertEquals(json.updaterStopped, true);
      assertEquals(processesOfHome(h.home), []);
    });
  } finally {
    await server.shutdown();
  }
});
