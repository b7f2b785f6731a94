/**
 * The Ansible module's `version` and `pin` end to end on this host:
 * ansible-playbook (`connection: local`) drives codexd from this checkout
 * against a temp CODEX_HOME with the fake app-server and the loopback npm
 * registry. Pinning reports `changed` once, a rerun `changed=false`, and
 * `pin: false` unpins (changed once). Declared ignored without
 * ansible-playbook.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { fakeHome, MOD_TS, REPO_ROOT } from "../support/helpers.ts";
import { startTestRegistry } from "../fixtures/test_registry.ts";

const HAVE_ANSIBLE = (await new Deno.Command("sh", {
  args: ["-c", "command -v ansible-playbook"],
  stdout: "null",
  stderr: "null",
}).output()).success;

Deno.test({
  name:
    "the module pins a version, reports changed only when the version or pin changes, and unpins",
  ignore: !HAVE_ANSIBLE, // needs ansible-core (apt-get install ansible-core)
  fn: async () => {
    await using registry = await startTestRegistry([{ version: "2.0.0" }, { version: "1.5.0" }]);
    await using h = await fakeHome({ version: "1.0.0" });
    const dir = await Deno.makeTempDir({ prefix: "codexd-ansible-pin-" });
    try {
      await Deno.mkdir(`${dir}/ansible_collections/codexd`, { recursive: true });
      await Deno.symlink(`${REPO_ROOT}/ansible`, `${dir}/ansible_collections/codexd/daemon`);
      const play = async (vars: Record<string, unknown>): Promise<Record<string, unknown>> => {
        const playbook = `${dir}/play.yml`;
        await Deno.writeTextFile(
          playbook,
          JSON.stringify([{
            hosts: "localhost",
            connection: "local",
            gather_facts: false,
            tasks: [{
              "codexd.daemon.app_server": {
                state: "started",
                codex_home: h.home,
                entry: MOD_TS,
                deno: Deno.execPath(),
                ...vars,
              },
              register: "r",
            }, { "ansible.builtin.copy": { content: "{{ r | to_json }}", dest: `${dir}/r.json` } }],
          }]),
        );
        const out = await new Deno.Command("ansible-playbook", {
          args: ["-i", "localhost,", playbook],
          env: {
            ANSIBLE_COLLECTIONS_PATH: dir,
            ANSIBLE_LOCAL_TEMP: dir,
            ANSIBLE_NOCOLOR: "1",
            ANSIBLE_PYTHON_INTERPRETER: "auto_silent",
            CODEX_HOME: h.home,
            NPM_CONFIG_REGISTRY: registry.url,
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assertEquals(out.code, 0, text);
        return JSON.parse(await Deno.readTextFile(`${dir}/r.json`));
      };
      const pinned = await play({ version: "1.5.0" });
      assertEquals(pinned.changed, true);
      assertEquals(pinned.commands, ["start", "update --version 1.5.0 --pin"]);
      assertEquals((pinned.codexd as Record<string, unknown>).pin, {
        by: "codexd",
        version: "1.5.0",
      });
      const again = await play({ version: "1.5.0" });
      assertEquals([again.changed, again.commands], [false, []]);
      const unpinned = await play({ pin: false });
      assertEquals([unpinned.changed, unpinned.commands], [true, ["update --unpin"]]);
      assertEquals((unpinned.codexd as Record<string, unknown>).version, "2.0.0");
      const still = await play({ pin: false });
      assertEquals([still.changed, still.commands], [false, []]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
