/**
 * The `codexd.daemon` Ansible collection against a real fleet: Debian's
 * ansible-core drives four inventory hosts over a throwaway OpenSSH server
 * listening on 127.0.0.2–127.0.0.5, each host a different local user made
 * with `useradd` (home under the workspace) holding the real codex in its own
 * `~/.codex`. The collection is built and installed offline into the
 * workspace; the hosts run codexd from a copy of this checkout with a copy of
 * this native deno (root's cache is not readable by other users).
 *
 * Touches: a world-readable workspace `/tmp/codexd-fleet-*` (deno, checkout
 * copy, collection, inventory, ssh control sockets, the users' homes), the
 * users in /etc/passwd. Everything is removed in `finally`: the users'
 * processes (`pkill -u`), the ssh control masters, the users, the sshd.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { eventually, isAlive, processesOfHome, REPO_ROOT } from "../support/helpers.ts";
import { layoutRealRelease } from "../support/real_codex.ts";
import { exec, mustExec } from "../support/exec.ts";
import { SSH_CLIENT_OPTIONS, sshdMissing, type SshSession, startSshd } from "../support/sshd.ts";
import { needs } from "../support/host.ts";
import {
  type FakeChatgptBackend,
  startFakeChatgptBackend,
  writeBackendHome,
} from "../support/fake_chatgpt_backend.ts";

/** One loopback address per host (no setup needed on Linux). */
const ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
/** Bound of one ansible-playbook run. */
const PLAY_TIMEOUT_MS = 300_000;
/** Bound of the role's run, which installs deno from npm. */
const ROLE_TIMEOUT_MS = 600_000;
/** How long killed processes have to disappear. */
const GONE_MS = 10_000;

interface FleetHost {
  name: string;
  user: string;
  address: string;
  home: string;
  codexHome: string;
}

interface Fleet extends AsyncDisposable {
  work: string;
  hosts: FleetHost[];
  /** Runs ansible-playbook with `args` in the workspace. */
  play(args: string[], timeoutMs?: number): Promise<PlayRun>;
}

interface PlayRun {
  code: number;
  output: string;
  recap: Map<string, { ok: number; changed: number; unreachable: number; failed: number }>;
}

async function must(cmd: string, args: string[], cwd?: string): Promise<string> {
  return await mustExec(cmd, args, { cwd });
}

async function onPath(name: string): Promise<boolean> {
  return (await exec("sh", ["-c", `command -v ${name}`])).code === 0;
}

/** `PLAY RECAP` lines by host. */
export function parseRecap(output: string): PlayRun["recap"] {
  const recap: PlayRun["recap"] = new Map();
  const pattern = /^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm;
  for (const m of output.matchAll(pattern)) {
    recap.set(m[1], {
      ok: Number(m[2]),
      changed: Number(m[3]),
      unreachable: Number(m[4]),
      failed: Number(m[5]),
    });
  }
  return recap;
}

/** The PLAY RECAP block, for the log. */
function recapBlock(output: string): string {
  const at = output.lastIndexOf("PLAY RECAP");
  return at < 0 ? output.slice(-3000) : output.slice(at).trim();
}

/** The sum of `changed` over `names`, asserting each host ran without failure. */
function changedOf(run: PlayRun, names: string[]): number[] {
  return names.map((name) => {
    const line = run.recap.get(name);
    assert(line, `no PLAY RECAP line for ${name}:\n${run.output.slice(-4000)}`);
    assertEquals(line.failed + line.unreachable, 0, `${name} failed:\n${run.output.slice(-4000)}`);
    return line.changed;
  });
}

/** The pid in a host's app-server pid record, if any. */
async function recordedPid(host: FleetHost): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`${host.codexHome}/app-server-daemon/app-server.pid`);
    return JSON.parse(text).pid;
  } catch {
    return undefined;
  }
}

/** Live pids owned by `uid`. */
function processesOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const real = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (real === uid && isAlive(pid)) pids.push(pid);
    } catch {
      // gone
    }
  }
  return pids;
}

/** Root's ssh control masters for this workspace (their command line names its control dir). */
function controlMasters(work: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (cmdline.startsWith("ssh\0") && cmdline.includes(`${work}/cp`)) pids.push(pid);
    } catch {
      // gone
    }
  }
  return pids;
}

/** This machine's npm registry and CA file (never credentials) as `.npmrc` lines. */
async function npmConnectionSettings(): Promise<string> {
  if (!(await onPath("npm"))) return "";
  const lines: string[] = [];
  for (const key of ["registry", "cafile"]) {
    const value = (await exec("npm", ["config", "get", key])).stdout.trim();
    if (value && value !== "null" && value !== "undefined") lines.push(`${key}=${value}`);
  }
  return lines.join("\n") + "\n";
}

/** Copies the checkout's files (tracked and untracked, not ignored) to `dest`. */
async function copyCheckout(dest: string): Promise<void> {
  const list = await must("git", [
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
  ], REPO_ROOT);
  for (const file of list.split("\0").filter(Boolean)) {
    const target = `${dest}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.copyFile(`${REPO_ROOT}/${file}`, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not committed
    }
  }
}

/** Builds the workspace, users and inventory; `{ skipped }` when users cannot be made. */
async function makeFleet(
  sshd: SshSession,
  backend: FakeChatgptBackend,
): Promise<Fleet | { skipped: string }> {
  const work = await Deno.makeTempDir({ prefix: "codexd-fleet-" });
  await Deno.chmod(work, 0o755);
  const hosts: FleetHost[] = [];
  const uids: number[] = [];
  const dispose = async (): Promise<void> => {
    for (const pid of controlMasters(work)) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        // gone
      }
    }
    for (const host of hosts) {
      await exec("pkill", ["-KILL", "-u", host.user]);
    }
    await eventually(() => uids.every((uid) => processesOfUid(uid).length === 0), GONE_MS);
    for (const host of hosts) {
      const out = await exec("userdel", [host.user]);
      if (out.code !== 0) console.error(`userdel ${host.user}: ${out.stderr}`);
    }
    await Deno.remove(work, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.mkdir(`${work}/bin`);
    try {
      await Deno.link(Deno.execPath(), `${work}/bin/deno`);
    } catch {
      await Deno.copyFile(Deno.execPath(), `${work}/bin/deno`);
    }
    await Deno.chmod(`${work}/bin/deno`, 0o755);
    await copyCheckout(`${work}/repo`);
    await Deno.mkdir(`${work}/homes`);
    await Deno.mkdir(`${work}/cp`, { mode: 0o700 });

    const npmSettings = await npmConnectionSettings();
    const tag = crypto.randomUUID().slice(0, 4);
    for (const [i, address] of ADDRESSES.entries()) {
      const user = `cdxf${tag}${i + 1}`;
      const home = `${work}/homes/${user}`;
      // `-p '*'`: no password, but not a locked account (sshd without PAM refuses `!`).
      const made = await exec("useradd", ["-m", "-d", home, "-p", "*", "-s", "/bin/sh", user]);
      if (made.code !== 0) {
        if (hosts.length === 0) {
          await dispose();
          return { skipped: `cannot create local users (useradd: ${made.stderr.trim()})` };
        }
        throw new Error(`useradd ${user}: ${made.stderr}`);
      }
      const host = { name: `host${i + 1}`, user, address, home, codexHome: `${home}/.codex` };
      hosts.push(host);
      uids.push(Number((await must("id", ["-u", user])).trim()));
      // Hard links of the cached release (world-readable, never written);
      // the directories the app-server and codexd write are the user's.
      await layoutRealRelease(host.codexHome);
      await must("chown", [
        `${user}:`,
        host.codexHome,
        `${host.codexHome}/packages`,
        `${host.codexHome}/packages/standalone`,
        `${host.codexHome}/packages/standalone/releases`,
      ]);
      await must("chown", ["-h", `${user}:`, `${host.codexHome}/packages/standalone/current`]);
      // A ChatGPT login against the loopback backend fake: remote control connects, as on a
      // logged-in host (without one, `remote_control: true` fails by design).
      await writeBackendHome(host.codexHome, backend);
      await must("chown", [
        `${user}:`,
        `${host.codexHome}/config.toml`,
        `${host.codexHome}/auth.json`,
      ]);
      // The role's npm needs this machine's registry and CA bundle (a TLS-inspecting proxy).
      await Deno.writeTextFile(`${home}/.npmrc`, npmSettings);
      await must("chown", [`${user}:`, `${home}/.npmrc`]);
    }

    const repo = `${work}/repo`;
    await must("ansible-galaxy", [
      "collection",
      "build",
      `${repo}/ansible`,
      "--output-path",
      `${work}/build`,
    ]);
    const tarball = [...Deno.readDirSync(`${work}/build`)].find((e) => e.name.endsWith(".tar.gz"));
    assert(tarball, "ansible-galaxy built no tarball");
    await must("ansible-galaxy", [
      "collection",
      "install",
      "--offline",
      "-p",
      `${work}/collections`,
      `${work}/build/${tarball.name}`,
    ]);

    const hostLines = (list: FleetHost[], extra = ""): string[] =>
      list.map((h) =>
        `        ${h.name}${extra}: { ansible_host: ${h.address}, ansible_user: ${h.user}` +
        (extra ? `, test_codex_home: "~/no-codex"` : "") + " }"
      );
    await Deno.writeTextFile(
      `${work}/inventory.yml`,
      [
        "all:",
        "  vars:",
        `    ansible_port: ${sshd.port}`,
        `    ansible_ssh_private_key_file: ${sshd.identityFile}`,
        `    ansible_ssh_common_args: "${SSH_CLIENT_OPTIONS.join(" ")}"`,
        "    ansible_python_interpreter: /usr/bin/python3",
        `    test_deno: ${work}/bin/deno`,
        // The bundle needs no jsr: resolution (the hosts' sessions get no JSR_URL).
        `    test_entry: ${repo}/dist/codexd.js`,
        "  children:",
        "    fleet:",
        "      hosts:",
        ...hostLines(hosts),
        "    codex_hosts:",
        "      children:",
        "        fleet:",
        "    bare:",
        "      hosts:",
        ...hostLines(hosts.slice(-1), "-bare"),
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${work}/ansible.cfg`,
      [
        "[defaults]",
        `inventory = ${work}/inventory.yml`,
        "forks = 12",
        "host_key_checking = False",
        "retry_files_enabled = False",
        "nocolor = True",
        `local_tmp = ${work}/ansible-local`,
        "[ssh_connection]",
        "pipelining = True",
        "ssh_args = -o ControlMaster=auto -o ControlPersist=30s",
        `control_path_dir = ${work}/cp`,
        "",
      ].join("\n"),
    );
    const module = [
      "      codexd.daemon.app_server:",
      '        state: "{{ state }}"',
      '        codex_home: "{{ test_codex_home | default(omit) }}"',
      '        remote_control: "{{ remote_control | default(omit) }}"',
      '        auto_update: "{{ auto_update | default(omit) }}"',
      '        autostart: "{{ autostart | default(omit) }}"',
      '        entry: "{{ test_entry }}"',
      '        deno: "{{ test_deno }}"',
    ];
    for (const [file, serial] of [["play.yml", ""], ["rolling.yml", "  serial: 1\n"]]) {
      await Deno.writeTextFile(
        `${work}/${file}`,
        `- hosts: "{{ target | default('fleet') }}"\n  gather_facts: false\n${serial}` +
          `  tasks:\n    - name: codexd app-server\n${module.join("\n")}\n`,
      );
    }
    await Deno.writeTextFile(
      `${work}/role.yml`,
      `- hosts: "{{ target }}"\n  gather_facts: false\n  roles:\n    - role: codexd.daemon.host\n` +
        `      vars:\n        codexd_state: started\n        codexd_entry: "{{ test_entry }}"\n`,
    );
    return {
      work,
      hosts,
      play: async (args, timeoutMs = PLAY_TIMEOUT_MS): Promise<PlayRun> => {
        const out = await exec("ansible-playbook", args, {
          cwd: work,
          env: {
            ANSIBLE_CONFIG: `${work}/ansible.cfg`,
            ANSIBLE_COLLECTIONS_PATH: `${work}/collections`,
            ANSIBLE_NOCOLOR: "1",
            ANSIBLE_FORCE_COLOR: "0",
          },
          timeoutMs,
        });
        const output = out.stdout + out.stderr;
        return { code: out.code, output, recap: parseRecap(output) };
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Why the fleet cannot run here: a missing tool or OpenSSH. */
async function fleetMissing(): Promise<string | undefined> {
  for (const tool of ["ansible-playbook", "ansible-galaxy", "python3", "useradd", "pkill"]) {
    if (!(await onPath(tool))) return `${tool} is not installed (apt-get install ansible-core)`;
  }
  return await sshdMissing();
}

Deno.test({
  name: "an Ansible play drives codexd idempotently on four real SSH hosts",
  ...needs(await fleetMissing()),
}, async (t) => {
  const started = await startSshd({ listenAddresses: ADDRESSES });
  if ("skipped" in started) throw new Error(started.skipped);
  await using _sshd = started;
  await using backend = startFakeChatgptBackend();
  const made = await makeFleet(started, backend);
  if ("skipped" in made) throw new Error(made.skipped);
  await using fleet = made;
  const names = fleet.hosts.map((h) => h.name);
  /** Runs `file` with `extra` as `-e` variables, `--flags` passed as they are. */
  const play = async (extra: string[], file = "play.yml"): Promise<PlayRun> => {
    const args = extra.flatMap((e) => e.startsWith("--") ? [e] : ["-e", e]);
    const run = await fleet.play([file, ...args]);
    console.log(`ansible-playbook ${file} ${args.join(" ")}\n${recapBlock(run.output)}`);
    return run;
  };

  await t.step("state started on four hosts changes each host once", async () => {
    const run = await play(["state=started"]);
    assertEquals(changedOf(run, names), [1, 1, 1, 1]);
    for (const host of fleet.hosts) {
      const pid = await recordedPid(host);
      assert(pid && isAlive(pid), `${host.name} has no running app-server`);
    }
  });

  await t.step("a rerun changes nothing", async () => {
    assertEquals(changedOf(await play(["state=started"]), names), [0, 0, 0, 0]);
  });

  await t.step("after kill -9 of one app-server only that host changes", async () => {
    const pid = await recordedPid(fleet.hosts[0]);
    assert(pid);
    Deno.kill(pid, "SIGKILL");
    assert(await eventually(() => !isAlive(pid), GONE_MS), `pid ${pid} survived SIGKILL`);
    assertEquals(changedOf(await play(["state=started"]), names), [1, 0, 0, 0]);
  });

  await t.step("check mode of stopped reports would-change and changes nothing", async () => {
    const pids = await Promise.all(fleet.hosts.map(recordedPid));
    const run = await play(["state=stopped", "--check", "--diff"]);
    assertEquals(changedOf(run, names), [1, 1, 1, 1]);
    assertMatch(run.output, /"running": true[\s\S]*"running": false/);
    assertEquals(await Promise.all(fleet.hosts.map(recordedPid)), pids);
    for (const pid of pids) assert(pid && isAlive(pid), `check mode stopped pid ${pid}`);
  });

  await t.step(
    "a host without codex fails with BINARY_MISSING while the others succeed",
    async () => {
      const run = await play(["state=started", "target=fleet:bare"]);
      assertEquals(changedOf(run, names), [0, 0, 0, 0]);
      assertEquals(run.recap.get("host4-bare")?.failed, 1, run.output.slice(-3000));
      // `~/no-codex` does not exist: start creates nothing there and says HOME_NOT_FOUND
      // (a home without codex would say BINARY_MISSING).
      assertMatch(run.output, /host4-bare.*(BINARY_MISSING|HOME_NOT_FOUND)/s);
      assertMatch(run.output, /"code": "(BINARY_MISSING|HOME_NOT_FOUND)"/);
    },
  );

  await t.step("autostart maps to enable-autostart and its failure is reported", async () => {
    const run = await play(["state=started", "target=host1", "autostart=true"]);
    assertEquals(run.recap.get("host1")?.failed, 1, run.output.slice(-3000));
    assertMatch(run.output, /codexd enable-autostart failed: (AUTOSTART_UNAVAILABLE|USAGE)/);
  });

  await t.step("state stopped changes all four and leaves nothing running", async () => {
    assertEquals(changedOf(await play(["state=stopped"]), names), [1, 1, 1, 1]);
    for (const host of fleet.hosts) assertEquals(processesOfHome(host.codexHome), []);
    assertEquals(changedOf(await play(["state=stopped"]), names), [0, 0, 0, 0]);
  });

  await t.step("bootstrapped with remote control changes once, then nothing", async () => {
    // No auto-update: the updater must not fetch newer releases mid-test.
    const extra = ["state=bootstrapped", "remote_control=true", "auto_update=false"];
    assertEquals(changedOf(await play(extra), names), [1, 1, 1, 1]);
    assertEquals(changedOf(await play(extra), names), [0, 0, 0, 0]);
  });

  await t.step("a rolling restart with serial 1 restarts every host", async () => {
    const before = await Promise.all(fleet.hosts.map(recordedPid));
    const run = await play(["state=restarted"], "rolling.yml");
    assertEquals(changedOf(run, names), [1, 1, 1, 1]);
    // One batch per host: four PLAY headers, each with its one task.
    assertEquals(run.output.match(/^PLAY \[/gm)?.length ?? 0, 4);
    assertEquals(run.output.match(/^TASK \[codexd app-server\]/gm)?.length ?? 0, 4);
    const after = await Promise.all(fleet.hosts.map(recordedPid));
    for (const [i, pid] of after.entries()) {
      assert(pid && pid !== before[i] && isAlive(pid), `${names[i]} was not restarted`);
    }
  });

  await t.step({
    name: "the host role installs a native deno from npm and applies the module",
    ...needs(
      await onPath("npm") ? undefined : "npm is not installed; the role cannot install deno",
    ),
    fn: async () => {
      const run = await fleet.play(["role.yml", "-e", "target=host2"], ROLE_TIMEOUT_MS);
      console.log(`ansible-playbook role.yml (host2)\n${recapBlock(run.output)}`);
      assertEquals(changedOf(run, ["host2"]), [1]); // deno installed; the app-server already ran
      const deno = `${fleet.hosts[1].home}/.cache/codexd-tools/node_modules/deno/deno`;
      const head = new Uint8Array(4);
      using file = await Deno.open(deno);
      await file.read(head);
      assertEquals([...head], [0x7f, 0x45, 0x4c, 0x46], `${deno} is not a native binary`);
      const again = await fleet.play(["role.yml", "-e", "target=host2"], ROLE_TIMEOUT_MS);
      assertEquals(changedOf(again, ["host2"]), [0]);
    },
  });

  await t.step("README's codex.yml bootstraps and rolling-restarts the fleet", async () => {
    const readme = await Deno.readTextFile(`${fleet.work}/repo/README.md`);
    const playbook = /`codex\.yml`:\n\n```yaml\n([\s\S]*?)\n```/.exec(readme)?.[1];
    assert(playbook, "README has no codex.yml block");
    await Deno.writeTextFile(`${fleet.work}/codex.yml`, playbook);
    const before = await Promise.all(fleet.hosts.map(recordedPid));
    const overrides = [
      "-e",
      `codexd_entry=${fleet.work}/repo/dist/codexd.js`,
      "-e",
      `codexd_deno=${fleet.work}/bin/deno`,
    ];
    const preview = await fleet.play(["codex.yml", "--check", "--diff", ...overrides]);
    console.log(
      `ansible-playbook codex.yml --check --diff (README)\n${recapBlock(preview.output)}`,
    );
    assertEquals(changedOf(preview, names), [1, 1, 1, 1]); // the restart would change each
    assertEquals(await Promise.all(fleet.hosts.map(recordedPid)), before);
    const run = await fleet.play(["codex.yml", ...overrides]);
    console.log(`ansible-playbook codex.yml (README)\n${recapBlock(run.output)}`);
    // Already bootstrapped as asked: only the rolling restart changes each host.
    assertEquals(changedOf(run, names), [1, 1, 1, 1]);
    const after = await Promise.all(fleet.hosts.map(recordedPid));
    for (const [i, pid] of after.entries()) {
      assert(pid && pid !== before[i] && isAlive(pid), `${names[i]} was not restarted`);
      assertMatch(run.output, new RegExp(`"msg": "${names[i]}: pid ${pid}"`));
    }
  });

  await t.step("ansible-doc renders the module's documentation", async () => {
    const out = await exec("ansible-doc", ["codexd.daemon.app_server"], {
      env: { ANSIBLE_COLLECTIONS_PATH: `${fleet.work}/collections`, ANSIBLE_NOCOLOR: "1" },
    });
    assertEquals(out.code, 0, out.stderr);
    assertMatch(out.stdout, /CODEXD\.DAEMON\.APP_SERVER/);
    assertMatch(out.stdout, /bootstrapped/);
  });

  await t.step("stopping the fleet leaves nothing running", async () => {
    assertEquals(changedOf(await play(["state=stopped"]), names), [1, 1, 1, 1]);
    for (const host of fleet.hosts) assertEquals(processesOfHome(host.codexHome), []);
  });
});
