/**
 * Remote control that tells the truth: table tests of the pure decisions in
 * `lib/app_server/remote_control.ts`, and black-box CLI tests against the fake
 * app-server's `remoteControl/*` knobs (live switch, slow and missing status
 * changes, older servers, refusals, unmanaged servers, start/bootstrap/status
 * reporting).
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  configureFake,
  fakeHome,
  fakeLaunches,
  isAlive,
  runCli,
  serverByHand,
} from "../support/helpers.ts";
import { RpcError } from "../../lib/app_server/client.ts";
import { CodexdError } from "../../lib/errors.ts";
import { setRemoteControl } from "../../lib/remote_control.ts";
import {
  classifyFailure,
  explainAccount,
  liveAction,
  loginCommand,
  notConnectedWarning,
  parseRemoteControlView,
  refusalHint,
  type RemoteControlView,
} from "../../lib/app_server/remote_control.ts";

function view(status: string): RemoteControlView {
  return { status, serverName: "host", installationId: "id", environmentId: null };
}

async function settingsOf(home: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(`${home}/app-server-daemon/settings.json`));
  } catch {
    return {};
  }
}

Deno.test("liveAction() sends only when the server is not where the setting says", () => {
  const table: [boolean, string, string][] = [
    [true, "connected", "none"],
    [true, "connecting", "wait"],
    [true, "disabled", "send"],
    [true, "errored", "send"],
    [false, "disabled", "none"],
    [false, "connected", "send"],
    [false, "connecting", "send"],
    [false, "errored", "send"],
  ];
  for (const [enabled, status, action] of table) {
    assertEquals(liveAction(enabled, view(status)), action, `${enabled} ${status}`);
  }
});

Deno.test("classifyFailure() tells older servers, old params, refusals and silence apart", () => {
  const table: [unknown, string][] = [
    [new RpcError("m", -32601, "method not found"), "unsupported"],
    [
      new RpcError("m", -32600, "Invalid request: unknown variant `remoteControl/enable`"),
      "unsupported",
    ],
    [
      new RpcError("m", -32600, "remoteControl/enable requires experimentalApi capability"),
      "unsupported",
    ],
    [new RpcError("m", -32602, "Invalid params"), "invalidParams"],
    [new RpcError("m", -32600, "remote control requires ChatGPT authentication"), "refused"],
    [new RpcError("m", -32600, "remote control is disabled by managed requirements"), "refused"],
    [new Error("app-server did not answer m within 5000 ms"), "unreachable"],
  ];
  for (const [error, kind] of table) assertEquals(classifyFailure(error), kind);
});

Deno.test("parseRemoteControlView() keeps the server's fields and rejects non-answers", () => {
  assertEquals(
    parseRemoteControlView({
      status: "connected",
      serverName: "vm",
      installationId: "i",
      environmentId: "e",
      extra: 1,
    }),
    { status: "connected", serverName: "vm", installationId: "i", environmentId: "e" },
  );
  assertEquals(parseRemoteControlView({ status: "errored" })?.environmentId, null);
  assertEquals(parseRemoteControlView({ serverName: "vm" }), undefined);
  assertEquals(parseRemoteControlView(null), undefined);
});

Deno.test("explainAccount() names a missing or non-ChatGPT login and nothing else", () => {
  assertMatch(explainAccount({ account: null, requiresOpenaiAuth: true })!, /no account/);
  assertMatch(explainAccount({ account: { type: "apiKey" } })!, /apiKey, not ChatGPT/);
  assertEquals(explainAccount({ account: { type: "chatgpt", email: "a@b" } }), undefined);
  assertEquals(explainAccount({}), undefined);
  assertEquals(explainAccount("nope"), undefined);
});

Deno.test("refusal hints: codex login for auth (naming a non-default home), the administrator for a policy", () => {
  assertEquals(loginCommand("/h/.codex", "/h/.codex"), "codex login");
  assertEquals(loginCommand("/srv/c", "/h/.codex"), "CODEX_HOME=/srv/c codex login");
  assertMatch(
    refusalHint("remote control requires ChatGPT authentication", "/h/.codex", "/h/.codex"),
    /^codex login, then: codexd enable-remote-control$/,
  );
  assertEquals(
    refusalHint("remote control requires ChatGPT authentication", "/srv/c", "/h/.codex"),
    "CODEX_HOME=/srv/c codex login, then: codexd enable-remote-control --codex-home /srv/c",
  );
  assertMatch(
    refusalHint("remote control is disabled by managed requirements", "/h", "/h"),
    /administrator/,
  );
  assertEquals(refusalHint("something else", "/h", "/h"), "codexd logs");
});

Deno.test("notConnectedWarning() is silent only when connected", () => {
  assertEquals(notConnectedWarning(view("connected"), undefined, false, 5000), undefined);
  assertMatch(notConnectedWarning(view("connecting"), undefined, true, 5000)!, /after 5000 ms/);
  assertMatch(
    notConnectedWarning(view("errored"), "no login", false, 5000)!,
    /"errored": no login/,
  );
  assertMatch(notConnectedWarning(null, "old server", false, 5000)!, /unknown: old server/);
});

Deno.test("enable-remote-control switches a running app-server live and reports the server's status", async () => {
  await using h = await fakeHome();
  const started = (await runCli(h.home, ["start"])).json;
  const enabled = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
  assertEquals(enabled.json.status, "enabled");
  assertEquals(enabled.json.applied, "live");
  assertEquals(enabled.json.restarted, false);
  assertEquals(enabled.json.pid, started.pid, "no restart");
  assertEquals(enabled.json.remoteControlEnabled, true);
  assertEquals(enabled.json.remoteControl, {
    status: "connected",
    serverName: "fake-host",
    installationId: `fake-installation-${started.pid}`,
    environmentId: "env-fake",
  });
  assertEquals((await fakeLaunches(h.home)).length, 1);

  const status = (await runCli(h.home, ["status"])).json;
  assertEquals(status.remoteControlEnabled, true);
  assertEquals((status.remoteControl as RemoteControlView).status, "connected");

  const again = (await runCli(h.home, ["enable-remote-control"])).json;
  assertEquals(again.status, "alreadyEnabled");
  assertEquals(again.applied, "unchanged");

  const disabled = (await runCli(h.home, ["disable-remote-control"])).json;
  assertEquals(disabled.status, "disabled");
  assertEquals(disabled.applied, "live");
  assertEquals(disabled.pid, started.pid);
  assertEquals((disabled.remoteControl as RemoteControlView).status, "disabled");
  assertEquals((await settingsOf(h.home)).remoteControlEnabled, false);
  assertEquals((await fakeLaunches(h.home)).length, 1, "still the first process");
  assert(isAlive(started.pid as number));
});

Deno.test("a slow status change is awaited on remoteControl/status/changed", async () => {
  await using h = await fakeHome({ remoteControlDelayMs: 1_500 });
  const started = (await runCli(h.home, ["start"])).json;
  const enabled = (await runCli(h.home, ["enable-remote-control"])).json;
  assertEquals((enabled.remoteControl as RemoteControlView).status, "connected");
  assertEquals(enabled.pid, started.pid);
  assertEquals(enabled.warnings, undefined);
});

Deno.test("a status change that never comes is bounded: connecting is returned with a warning", async () => {
  await using h = await fakeHome({ remoteControl: "stuck" });
  const started = (await runCli(h.home, ["start"])).json;
  const result = await setRemoteControl(true, { codexHome: h.home, remoteControlTimeoutMs: 300 });
  assertEquals(result.status, "enabled");
  assertEquals(result.applied, "live");
  assertEquals(result.pid, started.pid);
  assertEquals(result.remoteControl?.status, "connecting");
  assertMatch(result.warnings?.join("\n") ?? "", /still connecting after 300 ms/);
});

Deno.test("a server without the remote-control methods is restarted onto the new launch flag", async () => {
  await using h = await fakeHome({ remoteControl: "missing" });
  const started = (await runCli(h.home, ["start"])).json;
  const enabled = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabled.code, 0, enabled.stdout);
  assertEquals(enabled.json.applied, "restart");
  assertEquals(enabled.json.restarted, true);
  assertNotEquals(enabled.json.pid, started.pid);
  assertEquals(enabled.json.remoteControl, null);
  assertMatch(enabled.json.remoteControlReason as string, /has no remoteControl\/status\/read/);
  const launches = await fakeLaunches(h.home);
  assertEquals(launches.length, 2);
  assert(launches[1].args.includes("--remote-control"));
  assertEquals(launches[1].remoteControlDisabledEnv, null);

  const again = (await runCli(h.home, ["enable-remote-control"])).json;
  assertEquals(again.applied, "unchanged", "its launch flag already matches");
  assertEquals((await fakeLaunches(h.home)).length, 2);
  const status = (await runCli(h.home, ["status"])).json;
  assertEquals(status.remoteControl, null);
  assertMatch(status.remoteControlReason as string, /has no remoteControl/);
});

Deno.test("a server that rejects the ephemeral params gets the request without params", async () => {
  await using h = await fakeHome({ remoteControlLegacyParams: true });
  const started = (await runCli(h.home, ["start"])).json;
  const enabled = (await runCli(h.home, ["enable-remote-control"])).json;
  assertEquals(enabled.applied, "live");
  assertEquals(enabled.pid, started.pid);
  assertEquals((enabled.remoteControl as RemoteControlView).status, "connected");
});

Deno.test("a refusal fails with REMOTE_CONTROL_UNAVAILABLE, keeps the setting and the process", async () => {
  await using h = await fakeHome({ remoteControl: "refuse" });
  const started = (await runCli(h.home, ["start"])).json;
  const run = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(run.code, 1);
  assertEquals(run.json.code, "REMOTE_CONTROL_UNAVAILABLE");
  assertMatch(run.json.message as string, /disabled by managed requirements/);
  assertMatch(run.json.hint as string, /administrator/);
  assertEquals(run.json.persisted, true);
  assertEquals(run.json.remoteControlEnabled, true);
  assertEquals(run.json.pid, started.pid);
  assertEquals((await settingsOf(h.home)).remoteControlEnabled, true);
  assertEquals((await fakeLaunches(h.home)).length, 1, "no restart");
  assertMatch(run.stderr, /^Error: The app-server/);

  // A policy already forces remote control off: disabling needs no restart.
  const disabled = (await runCli(h.home, ["disable-remote-control"])).json;
  assertEquals(disabled.status, "disabled");
  assertEquals(disabled.applied, "unchanged");
  assertEquals((await fakeLaunches(h.home)).length, 1);
});

Deno.test("without a ChatGPT login enable fails with the codex login hint and the server's errored status", async () => {
  await using h = await fakeHome({ remoteControl: "errored" });
  const started = (await runCli(h.home, ["start"])).json;
  const run = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(run.json.code, "REMOTE_CONTROL_UNAVAILABLE");
  assertMatch(run.json.message as string, /requires ChatGPT authentication/);
  assertEquals(run.json.hint, "codex login, then: codexd enable-remote-control");
  assertEquals((run.json.remoteControl as RemoteControlView).status, "errored");
  assertEquals(run.json.pid, started.pid);
  assertEquals((await settingsOf(h.home)).remoteControlEnabled, true);
});

Deno.test("an app-server codexd did not start is refused before anything is persisted", async () => {
  await using h = await fakeHome();
  await using _server = await serverByHand(h.home);
  for (const command of ["enable-remote-control", "disable-remote-control"]) {
    const run = await runCli(h.home, [command]);
    assertEquals(run.json.code, "UNMANAGED_SERVER", command);
    assertMatch(run.json.hint as string, /^codexd adopt/);
    assertEquals(run.json.persisted, false);
  }
  assertEquals((await settingsOf(h.home)).remoteControlEnabled, undefined, "nothing persisted");
});

Deno.test("start, restart and bootstrap report the server's view; not connected is a warning, not a failure", async () => {
  await using h = await fakeHome({ remoteControl: "errored" });
  const stopped = (await runCli(h.home, ["enable-remote-control"])).json;
  assertEquals(stopped.applied, "nextStart");
  assertEquals(stopped.remoteControl, null);
  assertMatch(stopped.remoteControlReason as string, /applies at the next start/);
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.code, 3);
  assertEquals(status.json.remoteControl, null);

  const started = await runCli(h.home, ["start"]);
  assertEquals(started.code, 0, started.stdout);
  assertEquals((started.json.remoteControl as RemoteControlView).status, "errored");
  assertMatch(
    (started.json.warnings as string[]).join("\n"),
    /reports "errored": remote control requires ChatGPT authentication/,
  );
  const restarted = await runCli(h.home, ["restart"]);
  assertEquals(restarted.code, 0);
  assertEquals((restarted.json.remoteControl as RemoteControlView).status, "errored");

  // One paired device: nothing to warn about once connected.
  await configureFake(h.home, { pairedClients: 1 });
  const boot = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(boot.code, 0, boot.stdout);
  assertEquals(boot.json.appServer, "alreadyRunning");
  assertMatch((boot.json.warnings as string[]).join("\n"), /remote control is not available/);
  await runCli(h.home, ["stop", "--all"]);

  const fresh = await runCli(h.home, ["bootstrap", "--remote-control"]);
  assertEquals(fresh.json.appServer, "started");
  assertEquals((fresh.json.remoteControl as RemoteControlView).status, "connected");
  assertEquals((fresh.json.remoteControl as RemoteControlView).pairedClients, 1);
  assertEquals(fresh.json.warnings, undefined);
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("bootstrap switches an already running app-server live instead of restarting it", async () => {
  await using h = await fakeHome();
  const started = (await runCli(h.home, ["start"])).json;
  const boot = (await runCli(h.home, ["bootstrap", "--remote-control"])).json;
  assertEquals(boot.appServer, "alreadyRunning");
  assertEquals(boot.pid, started.pid);
  assertEquals((boot.remoteControl as RemoteControlView).status, "connected");
  assertEquals(boot.changed, true);
  const again = (await runCli(h.home, ["bootstrap", "--remote-control"])).json;
  assertEquals(again.changed, false, "nothing left to switch");
  const plain = (await runCli(h.home, ["bootstrap", "--no-remote-control"])).json;
  assertEquals(plain.pid, started.pid);
  assertEquals((plain.remoteControl as RemoteControlView).status, "disabled");
  assertEquals((await fakeLaunches(h.home)).length, 1);
  await runCli(h.home, ["stop", "--all"]);
});

Deno.test("library callers get REMOTE_CONTROL_UNAVAILABLE as a CodexdError with details", async () => {
  await using h = await fakeHome({ remoteControl: "errored" });
  await runCli(h.home, ["start"]);
  try {
    await setRemoteControl(true, { codexHome: h.home });
    throw new Error("expected a refusal");
  } catch (error) {
    assert(error instanceof CodexdError);
    assertEquals(error.code, "REMOTE_CONTROL_UNAVAILABLE");
    assertEquals(error.details?.persisted, true);
  }
});

Deno.test("a restart needed for an older release waits for running turns: applied pendingRestart, same pid", async () => {
  await using h = await fakeHome({ remoteControl: "missing", activeTurns: 1 });
  const started = (await runCli(h.home, ["start"])).json;
  const enabled = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
  assertEquals(enabled.json.applied, "pendingRestart");
  assertEquals(enabled.json.restarted, false);
  assertEquals(enabled.json.pid, started.pid);
  assertMatch(
    (enabled.json.pendingRestart as { reason: string }).reason,
    /^remote control setting: /,
  );
  assertMatch((enabled.json.warnings as string[]).join("\n"), /once its running turns end/);
  assertEquals((await fakeLaunches(h.home)).length, 1, "no turn was cut short");
  assertEquals((await settingsOf(h.home)).remoteControlEnabled, true);
});
