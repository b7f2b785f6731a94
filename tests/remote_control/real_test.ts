/**
 * Remote control on the real app-server (`@openai/codex@0.169.0`) on a host
 * without a ChatGPT login: codexd must say that remote control is not
 * available, keep the setting, and never restart the server for it.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { isAlive, processesOfHome, runCli } from "../support/helpers.ts";
import { realHome } from "../support/real_codex.ts";

interface View {
  status: string;
  serverName: string | null;
  installationId: string | null;
  environmentId: string | null;
}

Deno.test("without a login, the real app-server's remote control is reported unavailable, persisted, and applied without a restart", async () => {
  await using h = await realHome();
  const started = await runCli(h.home, ["start"]);
  assertEquals(started.code, 0, started.stdout + started.stderr);
  const pid = started.json.pid as number;
  const before = (await runCli(h.home, ["status"])).json;
  assertEquals((before.remoteControl as View).status, "disabled");
  assert(typeof (before.remoteControl as View).installationId === "string");

  const enable = await runCli(h.home, ["enable-remote-control"]);
  assertEquals(enable.code, 1, enable.stdout);
  assertEquals(enable.json.code, "REMOTE_CONTROL_UNAVAILABLE");
  assertMatch(enable.json.message as string, /requires ChatGPT authentication/);
  assertMatch(enable.json.hint as string, /^codex login/);
  assertEquals(enable.json.persisted, true);
  assertEquals(enable.json.remoteControlEnabled, true);
  assertEquals(enable.json.pid, pid);
  const settings = JSON.parse(
    await Deno.readTextFile(`${h.home}/app-server-daemon/settings.json`),
  );
  assertEquals(settings.remoteControlEnabled, true);

  const status = (await runCli(h.home, ["status"])).json;
  assertEquals(status.pid, pid, "no restart");
  assert(isAlive(pid));
  assertEquals(status.remoteControlEnabled, true);
  assertEquals((status.remoteControl as View).status, (enable.json.remoteControl as View).status);
  assertEquals((status.remoteControl as View).status, "errored");

  const disable = await runCli(h.home, ["disable-remote-control"]);
  assertEquals(disable.code, 0, disable.stdout);
  assertEquals(disable.json.applied, "live");
  assertEquals(disable.json.pid, pid);
  assertEquals((disable.json.remoteControl as View).status, "disabled");

  // A fresh start with the setting on carries the flag and reports the truth without failing.
  await runCli(h.home, ["enable-remote-control"]);
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  const fresh = await runCli(h.home, ["start"]);
  assertEquals(fresh.code, 0, fresh.stdout);
  assertEquals(fresh.json.status, "started");
  // Measured: `errored` right after readiness; never `connected` without a login.
  assert(["errored", "disabled"].includes((fresh.json.remoteControl as View).status));
  assertMatch((fresh.json.warnings as string[]).join("\n"), /requires ChatGPT authentication/);
  assertEquals((await runCli(h.home, ["stop"])).json.status, "stopped");
  assertEquals(processesOfHome(h.home).length, 0);
});
