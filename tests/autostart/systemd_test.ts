/**
 * systemd facts (`lib/autostart/systemd.ts`): what is missing and the way
 * out, the environment systemctl needs, and linger refusals reported, never
 * thrown.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { diagnoseSystemd, systemctlEnv } from "../../lib/autostart/systemd.ts";

Deno.test("diagnoseSystemd() names what is missing and the way out", () => {
  const base = {
    booted: true,
    systemctl: "/usr/bin/systemctl",
    pid1: "systemd",
    wsl: false,
    container: false,
  };
  assertEquals(diagnoseSystemd(base), undefined);
  const table: [Partial<typeof base>, RegExp, RegExp][] = [
    [{ booted: false, pid1: "tini", container: true }, /PID 1 is "tini"/, /entrypoint/],
    [{ booted: false, pid1: "init", wsl: true }, /not booted by systemd/, /wsl\.conf/],
    [{ booted: false, pid1: "runit" }, /\/run\/systemd\/system is missing/, /init system/],
    [{ systemctl: undefined }, /systemctl is not installed/, /apt-get install systemd/],
  ];
  for (const [patch, message, hint] of table) {
    const problem = diagnoseSystemd({ ...base, ...patch });
    assert(problem, JSON.stringify(patch));
    assertMatch(problem.message, message);
    assertMatch(problem.hint, hint);
  }
});

Deno.test("systemctlEnv() sets XDG_RUNTIME_DIR only where it is unset", () => {
  assertEquals(systemctlEnv({}, 1000), { XDG_RUNTIME_DIR: "/run/user/1000" });
  assertEquals(systemctlEnv({ XDG_RUNTIME_DIR: "/run/user/7" }, 1000), {});
});

Deno.test("ensureLinger() reports a refusal as linger: false with the fix, never throws", async () => {
  const { ensureLinger } = await import("../../lib/autostart/systemd.ts");
  const dir = await Deno.makeTempDir({ prefix: "codexd-autostart-" });
  try {
    await Deno.writeTextFile(`${dir}/bob`, "");
    assertEquals(await ensureLinger("bob", { lingerDir: dir }), { linger: true });
    // No logind answers here (or the user does not exist): refused.
    const refused = await ensureLinger("codexd-no-such-user", {
      lingerDir: dir,
      loginctlTimeoutMs: 10_000,
    });
    assertEquals(refused.linger, false);
    assertMatch(refused.warning ?? "", /Fix: sudo loginctl enable-linger codexd-no-such-user$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
