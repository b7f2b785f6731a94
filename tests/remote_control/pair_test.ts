/**
 * `pair`, `clients` and `revoke` on the fake app-server: the pure decisions
 * and parsers by tables, and every refusal as a coded error whose hint is
 * the next command (remote control off, not running, unmanaged, no login,
 * a policy). The success paths against the real app-server and a loopback
 * backend are in `tests/remote_control/backend_test.ts`.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { configureFake, fakeHome, runCli, serverByHand } from "../support/helpers.ts";
import { bigText, renderPairing } from "../../lib/cli/pairing_view.ts";
import {
  decidePairingPoll,
  isoTime,
  parseClientPage,
  parsePairing,
} from "../../lib/remote_control/pairing_protocol.ts";

Deno.test("decidePairingPoll() prefers a claim, then expiry, then the end of the wait", () => {
  const table: [boolean, number, number, number, string][] = [
    // claimed, now, expiresAt, deadline → next
    [true, 100, 50, 50, "paired"],
    [false, 100, 100, 200, "expired"],
    [false, 100, 90, 50, "expired"],
    [false, 100, 200, 100, "pending"],
    [false, 100, 200, 150, "poll"],
  ];
  for (const [claimed, now, expires, deadline, next] of table) {
    assertEquals(decidePairingPoll(claimed, now, expires, deadline), next, `${claimed} ${now}`);
  }
});

Deno.test("parsePairing() and parseClientPage() turn unix seconds into ISO times and reject non-answers", () => {
  assertEquals(
    parsePairing({ pairingCode: "p", manualPairingCode: null, environmentId: "e", expiresAt: 0 }),
    {
      pairingCode: "p",
      manualPairingCode: null,
      environmentId: "e",
      expiresAt: "1970-01-01T00:00:00.000Z",
    },
  );
  assertEquals(parsePairing({ pairingCode: "p", environmentId: "e" }), undefined);
  assertEquals(parsePairing(null), undefined);
  assertEquals(isoTime("2026-12-01T10:00:00Z"), "2026-12-01T10:00:00.000Z");
  assertEquals(isoTime("never"), null);
  assertEquals(parseClientPage({ data: [{ clientId: "c", lastSeenAt: 1 }], nextCursor: "n" }), {
    data: [{
      clientId: "c",
      displayName: null,
      deviceType: null,
      platform: null,
      osVersion: null,
      deviceModel: null,
      appVersion: null,
      lastSeenAt: "1970-01-01T00:00:01.000Z",
    }],
    nextCursor: "n",
  });
  assertEquals(parseClientPage({ data: [{}] }), undefined);
  assertEquals(parseClientPage({ items: [] }), undefined);
});

Deno.test("pair, clients and revoke refuse with the next command as hint: not running, remote control off", async () => {
  await using h = await fakeHome({ pairedClients: 1 });
  for (const args of [["pair"], ["clients"], ["revoke", "client-1"]]) {
    const run = await runCli(h.home, args);
    assertEquals(run.code, 1, run.stdout);
    assertEquals(run.json.code, "NOT_RUNNING", args[0]);
    assertMatch(run.json.hint as string, /^codexd start/);
  }
  await runCli(h.home, ["start"]);
  for (const args of [["pair"], ["clients"], ["revoke", "client-1"]]) {
    const run = await runCli(h.home, args);
    assertEquals(run.json.code, "REMOTE_CONTROL_OFF", args[0]);
    assertMatch(run.json.hint as string, /^codexd enable-remote-control/);
  }
  await runCli(h.home, ["enable-remote-control"]);
  const pair = await runCli(h.home, ["pair", "--manual-code"]);
  assertEquals(pair.json.status, "pairing", pair.stdout);
  assertEquals(pair.json.manualPairingCode, "FAKE-1234");
  const clients = await runCli(h.home, ["clients"]);
  assertEquals(clients.json.count, 1);
  assertEquals((await runCli(h.home, ["revoke", "client-1"])).json.status, "ok");
  const usage = await runCli(h.home, ["revoke"]);
  assertEquals(usage.code, 2);
  assertEquals(usage.json.code, "USAGE");
  await runCli(h.home, ["stop"]);
});

Deno.test("pair refuses without a login (codex login) and under a policy (the administrator)", async () => {
  await using h = await fakeHome({ remoteControl: "errored" });
  await runCli(h.home, ["start"]);
  await runCli(h.home, ["enable-remote-control"]); // fails, but persists the setting
  const noLogin = await runCli(h.home, ["pair"]);
  assertEquals(noLogin.json.code, "REMOTE_CONTROL_UNAVAILABLE", noLogin.stdout);
  assertMatch(noLogin.json.message as string, /requires ChatGPT authentication/);
  assertEquals(noLogin.json.hint, "codex login");
  await runCli(h.home, ["stop"]);

  await configureFake(h.home, { remoteControl: "refuse" });
  await runCli(h.home, ["start"]);
  const policy = await runCli(h.home, ["clients"]);
  assertEquals(policy.json.code, "REMOTE_CONTROL_UNAVAILABLE", policy.stdout);
  assertMatch(policy.json.hint as string, /administrator/);
  await runCli(h.home, ["stop"]);
});

Deno.test("pair on an app-server codexd did not start points to codexd adopt", async () => {
  await using h = await fakeHome();
  await using _server = await serverByHand(h.home);
  const run = await runCli(h.home, ["pair"]);
  assertEquals(run.json.code, "UNMANAGED_SERVER");
  assertMatch(run.json.hint as string, /^codexd adopt/);
});

Deno.test("start, restart and bootstrap report remoteControl.pairedClients and hint codexd pair when none", async () => {
  await using h = await fakeHome({ pairedClients: 0 });
  await runCli(h.home, ["enable-remote-control"]);
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.code, 0, started.stdout);
  const view = started.json.remoteControl as Record<string, unknown>;
  assertEquals(view.status, "connected");
  assertEquals(view.pairedClients, 0);
  assertMatch((started.json.warnings as string[]).join("\n"), /pair one with: codexd pair/);

  await configureFake(h.home, { pairedClients: 2 });
  const restarted = await runCli(h.home, ["restart"]);
  assertEquals((restarted.json.remoteControl as Record<string, unknown>).pairedClients, 2);
  assertEquals(restarted.json.warnings, undefined);
  const boot = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(boot.json.appServer, "alreadyRunning");
  assertEquals((boot.json.remoteControl as Record<string, unknown>).pairedClients, 2);
  await runCli(h.home, ["stop", "--all"]);

  // Not connected: the count cannot be asked (null), and start still succeeds.
  await configureFake(h.home, { remoteControl: "errored" });
  const errored = await runCli(h.home, ["start"]);
  assertEquals(errored.code, 0, errored.stdout);
  assertEquals((errored.json.remoteControl as Record<string, unknown>).pairedClients, null);
  await runCli(h.home, ["stop"]);
});

Deno.test("pair --pretty shows the typed code in block letters and the link to scan; never a QR off a terminal", async () => {
  assertEquals(bigText("A-1")?.split("\n").length, 5);
  assertEquals(bigText("a?"), undefined, "no glyph: plain code only");
  const view = renderPairing({
    status: "pairing",
    serverName: "vm",
    expiresAt: "2026-12-06T18:40:00.000Z",
    expiresInSeconds: 600,
    pairingLink: "https://chatgpt.com/codex/pair?pairing_code=pc",
    manualPairingCode: "AB-12",
  }, (data) => `QR(${data})`);
  assertMatch(view, /QR\(https:\/\/chatgpt\.com\/codex\/pair\?pairing_code=pc\)/);
  assertMatch(view, /in 10 min/);
  assertMatch(view, /\n {4}AB-12/);

  await using h = await fakeHome();
  await runCli(h.home, ["enable-remote-control"]);
  await runCli(h.home, ["start"]);
  const pretty = await runCli(h.home, ["pair", "--manual-code", "--pretty"]);
  assertEquals(pretty.code, 0, pretty.stderr);
  assertMatch(
    pretty.stdout,
    /Open on the device: https:\/\/chatgpt\.com\/codex\/pair\?pairing_code=pc-fake/,
  );
  assertMatch(pretty.stdout, /FAKE-1234/);
  assertEquals(pretty.stdout.includes("\u2580"), false, "no QR when stdout is not a terminal");
  await runCli(h.home, ["stop"]);
});
