/**
 * Remote control end to end against a loopback fake of the ChatGPT backend
 * (`tests/support/fake_chatgpt_backend.ts`) with the real app-server and a
 * fabricated login: `enable-remote-control` reaches `connected`; `pair`
 * hands out codes, `--wait-seconds` sees a claim (`paired`), runs out
 * (`pairingPending`) or sees the code expire (`PAIRING_EXPIRED`); `clients`
 * follows the cursor; `revoke` sends the DELETE. Both 0.169.0 and the npm
 * latest (0.171.0) have every method (measured).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { eventually, runCli } from "../support/helpers.ts";
import { realHome } from "../support/real_codex.ts";
import {
  FAKE_ENVIRONMENT_ID,
  fakeClient,
  startFakeChatgptBackend,
  writeBackendHome,
} from "../support/fake_chatgpt_backend.ts";

for (const version of ["0.169.0", "0.171.0"]) {
  Deno.test(`real ${version} against a loopback backend: enable → connected, pair → codes, claim → paired, clients, revoke`, async () => {
    await using h = await realHome(version);
    await using fake = startFakeChatgptBackend();
    fake.clients.push(fakeClient("c1", "Alice's iPhone"), fakeClient("c2"), fakeClient("c3"));
    fake.setPageSize(2); // three devices: two pages
    await writeBackendHome(h.home, fake);
    const started = await runCli(h.home, ["start"]);
    assertEquals(started.code, 0, started.stdout + started.stderr);
    const pid = started.json.pid;

    const enabled = await runCli(h.home, ["enable-remote-control"]);
    assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
    assertEquals(enabled.json.applied, "live");
    assertEquals(enabled.json.pid, pid);
    const view = enabled.json.remoteControl as Record<string, unknown>;
    assertEquals(view.status, "connected");
    assertEquals(view.environmentId, FAKE_ENVIRONMENT_ID);
    assert(fake.wsOpen() >= 1, "the server holds the backend's WebSocket");
    assert(fake.requests.some((r) => r.path.endsWith("/server/enroll")));

    const pairing = await runCli(h.home, ["pair", "--manual-code"]);
    assertEquals(pairing.code, 0, pairing.stdout + pairing.stderr);
    assertEquals(pairing.json.status, "pairing");
    assertEquals(pairing.json.pairingCode, fake.pairings[0].pairing_code);
    assertEquals(pairing.json.manualPairingCode, fake.pairings[0].manual_pairing_code);
    assertEquals(pairing.json.environmentId, FAKE_ENVIRONMENT_ID);
    assertMatch(pairing.json.expiresAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assertMatch(
      pairing.json.pairingLink as string,
      /^https:\/\/chatgpt\.com\/codex\/pair\?pairing_code=pc_fake_/,
    );
    assertEquals(pairing.json.claimed, false);
    assertEquals(pairing.json.pid, pid);

    // A device claims the code while `pair` waits.
    const waiting = runCli(h.home, ["pair", "--wait-seconds", "60"]);
    assert(await eventually(() => fake.pairings.length === 2, 30_000), "second pairing asked");
    fake.claim(fake.pairings[1].pairing_code);
    const paired = await waiting;
    assertEquals(paired.code, 0, paired.stdout + paired.stderr);
    assertEquals(paired.json.status, "paired");
    assertEquals(paired.json.claimed, true);
    assertEquals(paired.json.manualPairingCode, null, "no manual code unless asked");

    const pending = await runCli(h.home, ["pair", "--wait-seconds", "1"]);
    assertEquals(pending.json.status, "pairingPending", pending.stdout);

    fake.setPairingTtlSeconds(2);
    const expired = await runCli(h.home, ["pair", "--wait-seconds", "60"]);
    assertEquals(expired.code, 1, expired.stdout);
    assertEquals(expired.json.code, "PAIRING_EXPIRED");
    assertMatch(expired.json.hint as string, /^codexd pair/);

    const clients = await runCli(h.home, ["clients"]);
    assertEquals(clients.code, 0, clients.stdout + clients.stderr);
    assertEquals(clients.json.status, "ok");
    assertEquals(clients.json.count, 3, "all pages followed");
    const first = (clients.json.clients as Record<string, unknown>[])[0];
    assertEquals(first.clientId, "c1");
    assertEquals(first.displayName, "Alice's iPhone");
    assertEquals(first.lastSeenAt, "2026-12-01T10:00:00.000Z");
    assert(
      fake.requests.some((r) => r.path.endsWith("/clients") && r.query.cursor === "2"),
      "the second page was asked with the cursor",
    );

    const revoked = await runCli(h.home, ["revoke", "c2"]);
    assertEquals(revoked.code, 0, revoked.stdout + revoked.stderr);
    assertEquals(revoked.json.status, "ok");
    assertEquals(revoked.json.clientId, "c2");
    assertEquals(fake.deleted, ["c2"]);
    assertEquals((await runCli(h.home, ["clients"])).json.count, 2);

    assertEquals((await runCli(h.home, ["status"])).json.pid, pid, "never restarted");
    const restarted = await runCli(h.home, ["restart"]);
    assertEquals(restarted.code, 0, restarted.stdout + restarted.stderr);
    assertEquals((restarted.json.remoteControl as Record<string, unknown>).status, "connected");
    assertEquals((restarted.json.remoteControl as Record<string, unknown>).pairedClients, 2);
    assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  });
}
