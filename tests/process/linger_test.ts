/**
 * logind linger (`lib/process/linger.ts`): whether logout kills the daemon,
 * read from logind's config files, and when to suggest enable-linger.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { killUserProcesses, lingerWarning } from "../../lib/process/linger.ts";

Deno.test("killUserProcesses() takes the last setting across logind config files", () => {
  assertEquals(killUserProcesses(["[Login]\n#KillUserProcesses=yes\n"]), false);
  assertEquals(killUserProcesses(["[Login]\nKillUserProcesses=yes\n"]), true);
  assertEquals(killUserProcesses(["KillUserProcesses=yes", "KillUserProcesses=no"]), false);
});

Deno.test("lingerWarning() suggests enable-linger only when logout would kill the daemon", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/logind.conf`, "[Login]\nKillUserProcesses=yes\n");
    await Deno.mkdir(`${dir}/linger`);
    const probe = {
      configFiles: [`${dir}/logind.conf`],
      lingerDir: `${dir}/linger`,
      user: "alice",
      inSession: true,
    };
    const warning = lingerWarning(probe);
    assert(warning !== undefined);
    assertMatch(warning, /loginctl enable-linger alice$/);
    assertEquals(lingerWarning({ ...probe, inSession: false }), undefined);
    await Deno.writeTextFile(`${dir}/linger/alice`, "");
    assertEquals(lingerWarning(probe), undefined);
    assertEquals(lingerWarning({ ...probe, configFiles: [`${dir}/missing.conf`] }), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
