/**
 * The pure decisions of the Ansible module `codexd.daemon.app_server`
 * (`ansible/plugins/modules/app_server.py`), table-tested through python3
 * without Ansible running anything: which codexd commands a wanted state
 * needs, whether a result changed the host, which deno is chosen. And that
 * `ansible-doc` renders the module and the role from the source tree (a temp
 * collections path linking to `ansible/`). Skips with a message where python3
 * (or, for the rendering, ansible-doc) is missing.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fakeHome, killHomeProcesses, MOD_TS, REPO_ROOT, runCli } from "../support/helpers.ts";
import { needs } from "../support/host.ts";

const MODULE = `${REPO_ROOT}/ansible/plugins/modules/app_server.py`;

/** Loads the module and evaluates each `[function, args]` call; fake deno probes for `choose_deno`. */
const EVALUATOR = `
import importlib.util, json, sys, types
try:
    import ansible.module_utils.basic
except ImportError:  # the decisions need no Ansible: stub the one import
    for name in ("ansible", "ansible.module_utils", "ansible.module_utils.basic"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["ansible.module_utils.basic"].AnsibleModule = object
spec = importlib.util.spec_from_file_location("app_server", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
def choose_deno_table(candidates, natives, executables, links):
    return m.choose_deno(candidates, lambda p: p in natives, lambda p: p in executables,
                         lambda p: links.get(p, p))
out = []
for fn, args in json.load(sys.stdin):
    f = choose_deno_table if fn == "choose_deno_table" else getattr(m, fn)
    out.append(f(*args))
print(json.dumps(out))
`;

type Call = [string, unknown[]];

async function onPath(name: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${name}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** Whether python3 is installed (Ansible is not needed: the evaluator stubs its import). */
function havePython(): Promise<boolean> {
  return onPath("python3");
}

/** Why the module's Python cannot be evaluated here. */
const noPython = await havePython() ? undefined : "python3 is not installed";
/** Why ansible-doc cannot render here. */
const noAnsibleDoc = await onPath("ansible-doc")
  ? undefined
  : "ansible-doc is not installed (apt-get install ansible-core)";

async function evaluate(calls: Call[]): Promise<unknown[]> {
  const child = new Deno.Command("python3", {
    args: ["-c", EVALUATOR, MODULE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(calls)));
  await writer.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `codexd status` facts as `facts_of` returns them. */
function facts(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    running: false,
    remoteControlEnabled: false,
    updaterEnabled: false,
    updaterRunning: false,
    autoUpdateEnabled: true,
    managedCodexPath: "/h/.codex/packages/standalone/current/codex",
    autostart: null,
    remoteControlStatus: null,
    pinnedVersion: null,
    managedCodexVersion: null,
    ...overrides,
  };
}

const RUNNING = { running: true };
const SUPERVISED = {
  running: true,
  updaterEnabled: true,
  updaterRunning: true,
  remoteControlEnabled: true,
  autoUpdateEnabled: false,
};

Deno.test({
  name: "the module plans only the codexd commands that change something",
  ...needs(noPython),
}, async () => {
  const table: [string, string, Record<string, unknown>, Record<string, unknown>, unknown][] = [
    ["started on a stopped host starts", "started", facts(), {}, [["start", []]]],
    ["started on a running host does nothing", "started", facts(RUNNING), {}, []],
    [
      "started with another remote-control setting toggles it (which restarts)",
      "started",
      facts(RUNNING),
      { remote_control: true },
      [["enable-remote-control", []]],
    ],
    [
      "started on a stopped host with remote control off persists it, then starts",
      "started",
      facts({ remoteControlEnabled: true }),
      { remote_control: false },
      [["disable-remote-control", []], ["start", []]],
    ],
    ["stopped stops app-server and updater", "stopped", facts(RUNNING), {}, [["stop", ["--all"]]]],
    [
      "stopped stops a lone updater too",
      "stopped",
      facts({ updaterRunning: true }),
      {},
      [["stop", ["--all"]]],
    ],
    ["stopped on a stopped host does nothing", "stopped", facts(), {}, []],
    ["restarted always restarts", "restarted", facts(RUNNING), {}, [["restart", []]]],
    [
      "bootstrapped passes remote control and auto-update explicitly",
      "bootstrapped",
      facts(),
      { remote_control: true, auto_update: false },
      [["bootstrap", ["--remote-control", "--no-auto-update"]]],
    ],
    [
      "bootstrapped on a host already so does nothing",
      "bootstrapped",
      facts(SUPERVISED),
      { remote_control: true, auto_update: false },
      [],
    ],
    [
      "bootstrapped without remote_control keeps the recorded setting",
      "bootstrapped",
      facts({ ...SUPERVISED, updaterRunning: false }),
      {},
      [["bootstrap", ["--remote-control", "--no-auto-update"]]],
    ],
    [
      "bootstrapped reruns when auto-update differs",
      "bootstrapped",
      facts(SUPERVISED),
      { auto_update: true },
      [["bootstrap", ["--remote-control"]]],
    ],
    [
      "bootstrapped with a version installs and pins it",
      "bootstrapped",
      facts(),
      { version: "0.169.0" },
      [["bootstrap", ["--install", "--version", "0.169.0", "--pin"]]],
    ],
    [
      "bootstrapped with pin false installs the version only when missing",
      "bootstrapped",
      facts(),
      { version: "0.169.0", pin: false },
      [["bootstrap", ["--install", "--version", "0.169.0"]]],
    ],
    [
      "a bootstrapped host moves its pin with update (turn-safe restart), not a bootstrap",
      "bootstrapped",
      facts({ ...SUPERVISED, pinnedVersion: "0.166.0", managedCodexVersion: "0.166.0" }),
      { version: "0.169.0" },
      [["update", ["--version", "0.169.0", "--pin"]]],
    ],
    [
      "started pins a version on an unpinned host",
      "started",
      facts({ ...RUNNING, managedCodexVersion: "0.171.0" }),
      { version: "0.169.0" },
      [["update", ["--version", "0.169.0", "--pin"]]],
    ],
    [
      "pinned and installed as wanted: nothing runs",
      "started",
      facts({ ...RUNNING, pinnedVersion: "0.169.0", managedCodexVersion: "0.169.0" }),
      { version: "0.169.0" },
      [],
    ],
    [
      "pinned but another version installed: update restores it",
      "started",
      facts({ ...RUNNING, pinnedVersion: "0.169.0", managedCodexVersion: "0.171.0" }),
      { version: "0.169.0" },
      [["update", ["--version", "0.169.0", "--pin"]]],
    ],
    [
      "pin false unpins a pinned host",
      "started",
      facts({ ...RUNNING, pinnedVersion: "0.169.0" }),
      { pin: false },
      [["update", ["--unpin"]]],
    ],
    [
      "pin false on an unpinned host runs nothing",
      "started",
      facts(RUNNING),
      { pin: false },
      [],
    ],
    [
      "a bootstrap with pin false on a pinned host unpins after it",
      "bootstrapped",
      facts({ pinnedVersion: "0.169.0" }),
      { pin: false },
      [["bootstrap", []], ["update", ["--unpin"]]],
    ],
    [
      "an external codex_bin is never pinned",
      "started",
      facts(RUNNING),
      { version: "0.169.0", codex_bin: "/usr/bin/codex" },
      [],
    ],
    [
      "bootstrapped reruns when the codex binary differs",
      "bootstrapped",
      facts(SUPERVISED),
      { codex_bin: "/usr/local/bin/codex" },
      [["bootstrap", ["--remote-control", "--no-auto-update"]]],
    ],
    [
      "autostart maps to enable-autostart when status does not report it",
      "started",
      facts(RUNNING),
      { autostart: true },
      [["enable-autostart", []]],
    ],
    [
      "autostart false maps to disable-autostart",
      "stopped",
      facts({ autostart: true }),
      { autostart: false },
      [["disable-autostart", []]],
    ],
    [
      "autostart false on a host without the unit runs nothing",
      "started",
      facts({ running: true, autostart: false }),
      { autostart: false },
      [],
    ],
    [
      "autostart true on a host without the unit enables it",
      "started",
      facts({ running: true, autostart: false }),
      { autostart: true },
      [["enable-autostart", []]],
    ],
    [
      "remote control wanted and persisted but errored asks the server again (and fails)",
      "started",
      facts({ running: true, remoteControlEnabled: true, remoteControlStatus: "errored" }),
      { remote_control: true },
      [["enable-remote-control", []]],
    ],
    [
      "bootstrapped with remote control errored asks the server again",
      "bootstrapped",
      facts({ ...SUPERVISED, remoteControlStatus: "errored" }),
      { remote_control: true, auto_update: false },
      [["enable-remote-control", []]],
    ],
    [
      "remote control connected is met",
      "started",
      facts({ running: true, remoteControlEnabled: true, remoteControlStatus: "connected" }),
      { remote_control: true },
      [],
    ],
    [
      "stopped never asks an errored remote control",
      "stopped",
      facts({ running: true, remoteControlEnabled: true, remoteControlStatus: "errored" }),
      { remote_control: true },
      [["stop", ["--all"]]],
    ],
    [
      "autostart already as wanted runs nothing",
      "started",
      facts({ running: true, autostart: true }),
      { autostart: true },
      [],
    ],
  ];
  const results = await evaluate(
    table.map(([, state, before, want]) => ["plan", [state, before, want]]),
  );
  for (const [i, [name, , , , expected]] of table.entries()) {
    assertEquals(results[i], expected, name);
  }
});

Deno.test({
  name: "a command's result counts as a change as codexd reports it",
  ...needs(noPython),
}, async () => {
  const table: [string, Record<string, unknown>, boolean][] = [
    ["start", { status: "started" }, true],
    ["start", { status: "alreadyRunning" }, false],
    ["stop", { status: "stopped" }, true],
    ["stop", { status: "notRunning" }, false],
    ["stop", { status: "notRunning", updaterStopped: true }, true],
    ["restart", { status: "restarted" }, true],
    ["enable-remote-control", { status: "alreadyEnabled" }, false],
    ["disable-remote-control", { status: "disabled" }, true],
    ["enable-autostart", { status: "alreadyEnabled" }, false],
    ["bootstrap", { status: "bootstrapped" }, true],
    ["bootstrap", { status: "bootstrapped", changed: false }, false],
    ["start", { status: "alreadyRunning", changed: true }, true],
    ["update", { status: "pinned", changed: false }, false],
    ["update", { status: "pinned", pinChanged: true, changed: true }, true],
    ["update", { status: "updated", changed: true }, true],
  ];
  const results = await evaluate(
    table.map(([command, result]) => ["result_changed", [command, result]]),
  );
  for (const [i, [command, result, expected]] of table.entries()) {
    assertEquals(results[i], expected, `${command} ${JSON.stringify(result)}`);
  }
});

Deno.test({
  name: "status facts, check-mode predictions and option checks are derived from codexd's JSON",
  ...needs(noPython),
}, async () => {
  const status = {
    status: "running",
    remoteControlEnabled: true,
    managedCodexPath: "/c",
    updater: { enabled: true, running: false, autoUpdateEnabled: false },
  };
  const [
    parsed,
    after,
    stoppedAfter,
    refused,
    allowed,
    json,
    none,
    ignored,
    applied,
    pinned,
    pinAfter,
  ] = await evaluate([
    ["facts_of", [status]],
    ["predict_after", ["bootstrapped", facts(), { remote_control: true }]],
    ["predict_after", ["stopped", facts(SUPERVISED), {}]],
    ["validate", [{ auto_update: true, codex_bin: "/usr/bin/codex" }]],
    ["validate", [{ auto_update: false, codex_bin: "/usr/bin/codex" }]],
    ["parse_json", ['Download x\n{"status":"started"}\n']],
    ["parse_json", ["not json\n"]],
    ["ignored_options", ["started", { auto_update: false, install: true, version: null }]],
    ["ignored_options", ["bootstrapped", { auto_update: false, install: true }]],
    ["facts_of", [{ ...status, pin: { by: "codexd", version: "0.169.0" } }]],
    ["predict_after", ["started", facts(RUNNING), { version: "0.169.0" }]],
  ]);
  assertEquals((pinned as Record<string, unknown>).pinnedVersion, "0.169.0");
  assertEquals(
    pinAfter,
    facts({ ...RUNNING, pinnedVersion: "0.169.0", managedCodexVersion: "0.169.0" }),
  );
  assertEquals(
    parsed,
    facts({ ...SUPERVISED, updaterRunning: false, managedCodexPath: "/c", autostart: null }),
  );
  assertEquals(
    after,
    facts({
      running: true,
      updaterEnabled: true,
      updaterRunning: true,
      remoteControlEnabled: true,
    }),
  );
  assertEquals(stoppedAfter, facts({ ...SUPERVISED, running: false, updaterRunning: false }));
  assertMatch(String(refused), /external codex_bin/);
  assertEquals(allowed, null);
  assertEquals(json, { status: "started" });
  assertEquals(none, null);
  assertEquals(ignored, [
    "auto_update applies only with state=bootstrapped; ignored with state=started",
    "install applies only with state=bootstrapped; ignored with state=started",
  ]);
  assertEquals(applied, []);
});

Deno.test({
  name: "deno is found native first, through npm's wrapper to its sibling binary",
  ...needs(noPython),
}, async () => {
  const wrapper = "/usr/bin/deno";
  const cjs = "/usr/lib/node_modules/deno/bin.cjs";
  const sibling = "/usr/lib/node_modules/deno/deno";
  const home = "/home/u/.cache/codexd-tools/node_modules/deno/deno";
  const table: [string, [string[], string[], string[], Record<string, string>], string | null][] = [
    [
      "a native binary on PATH wins",
      [["/p/deno", home], ["/p/deno", home], ["/p/deno", home], {}],
      "/p/deno",
    ],
    ["a wrapper leads to the native binary beside it", [[wrapper, home], [sibling, home], [
      wrapper,
      sibling,
      home,
    ], { [wrapper]: cjs }], sibling],
    ["a wrapper without a native sibling loses to a later native", [[wrapper, home], [home], [
      wrapper,
      home,
    ], { [wrapper]: cjs }], home],
    ["only a wrapper: the wrapper", [[wrapper, home], [], [wrapper], { [wrapper]: cjs }], wrapper],
    ["nothing runnable: none", [[wrapper, home], [home], [], {}], null],
  ];
  const results = await evaluate(table.map(([, args]) => ["choose_deno_table", args]));
  for (const [i, [name, , expected]] of table.entries()) assertEquals(results[i], expected, name);
});

Deno.test({
  name: "ansible-doc renders the module and the role from the source tree",
  ...needs(noAnsibleDoc),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "codexd-ansible-doc-" });
  try {
    await Deno.mkdir(`${dir}/ansible_collections/codexd`, { recursive: true });
    await Deno.symlink(`${REPO_ROOT}/ansible`, `${dir}/ansible_collections/codexd/daemon`);
    const doc = async (args: string[]): Promise<string> => {
      const out = await new Deno.Command("ansible-doc", {
        args,
        env: { ANSIBLE_COLLECTIONS_PATH: dir, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCAL_TEMP: dir },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    const module = await doc(["codexd.daemon.app_server"]);
    assertMatch(module, /CODEXD\.DAEMON\.APP_SERVER/);
    for (
      const option of [
        "state",
        "codex_home",
        "remote_control",
        "auto_update",
        "autostart",
        "version",
        "pin",
        "codex_bin",
        "entry",
        "deno",
      ]
    ) {
      assertMatch(module, new RegExp(`^- ${option}$`, "m"), `option ${option} undocumented`);
    }
    assertMatch(module, /RETURN VALUES/);
    const role = await doc(["-t", "role", "codexd.daemon.host"]);
    assertMatch(role, /codexd_deno_version/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the module reads a host without the autostart unit as off and reports changes it made",
  ignore: !(await havePython()), // python3 evaluates the module's decisions
  async fn() {
    const status = { status: "running", updater: {}, remoteControl: { status: "errored" } };
    const persisted = { status: "error", code: "REMOTE_CONTROL_UNAVAILABLE", persisted: true };
    const unmanaged = { status: "error", code: "UNMANAGED_SERVER", persisted: false };
    const started = { status: "started", remoteControl: { status: "errored" } };
    const table: [string, Call, unknown][] = [
      ["autostart null: no unit, off", ["facts_of", [{ ...status, autostart: null }]], false],
      ["no autostart key: an older codexd, unknown", ["facts_of", [status]], null],
      ["autostart enabled", ["facts_of", [{ ...status, autostart: { enabled: true } }]], true],
      [
        "check mode: enabling on a host without the unit would change",
        ["check_mode_changed", [[["enable-autostart", []]], facts({ autostart: false })]],
        true,
      ],
      [
        "check mode: autostart unknown (older codexd) cannot tell",
        ["check_mode_changed", [[["enable-autostart", []]], facts()]],
        false,
      ],
      [
        "check mode: asking an errored remote control again changes nothing",
        [
          "check_mode_changed",
          [[["enable-remote-control", []]], facts({ remoteControlEnabled: true })],
        ],
        false,
      ],
      [
        "a failed enable that persisted the setting changed the host",
        ["failure_changed", ["enable-remote-control", persisted, facts(), false]],
        true,
      ],
      [
        "a failed enable on a host already so changed nothing",
        [
          "failure_changed",
          ["enable-remote-control", persisted, facts({ remoteControlEnabled: true }), false],
        ],
        false,
      ],
      [
        "a failed enable that persisted nothing changed nothing",
        ["failure_changed", ["enable-remote-control", unmanaged, facts(), false]],
        false,
      ],
      [
        "a failure after a change keeps changed",
        ["failure_changed", ["start", null, facts(), true]],
        true,
      ],
      [
        "remote control wanted but errored after start is a problem",
        ["remote_control_problem", [{ remote_control: true }, started]],
        "problem",
      ],
      [
        "remote control connected is no problem",
        [
          "remote_control_problem",
          [{ remote_control: true }, { remoteControl: { status: "connected" } }],
        ],
        null,
      ],
      [
        "remote control not asked for is no problem",
        ["remote_control_problem", [{}, started]],
        null,
      ],
    ];
    const results = await evaluate(table.map(([, call]) => call));
    for (const [i, [name, call, expected]] of table.entries()) {
      const got = call[0] === "facts_of"
        ? (results[i] as Record<string, unknown>).autostart
        : call[0] === "remote_control_problem" && results[i] !== null
        ? "problem"
        : results[i];
      assertEquals(got, expected, name);
    }
    const [viewed] = await evaluate([["facts_of", [status]]]);
    assertEquals((viewed as Record<string, unknown>).remoteControlStatus, "errored");
  },
});

// --- the module run by Ansible on this host, against the real CLI (issue 18, point 9) ----

const HAVE_ANSIBLE = await onPath("ansible");

/** Runs the module once with `ansible localhost -c local`; its JSON result and stderr. */
async function runModule(
  home: string,
  args: Record<string, string>,
  check = false,
): Promise<{ outcome: string; result: Record<string, unknown>; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "codexd-ansible-run-" });
  try {
    await Deno.mkdir(`${dir}/ansible_collections/codexd`, { recursive: true });
    await Deno.symlink(`${REPO_ROOT}/ansible`, `${dir}/ansible_collections/codexd/daemon`);
    const moduleArgs = JSON.stringify({
      codex_home: home,
      entry: MOD_TS,
      deno: Deno.execPath(),
      ...args,
    });
    const out = await new Deno.Command("ansible", {
      args: [
        "localhost",
        "-c",
        "local",
        "-m",
        "codexd.daemon.app_server",
        "-a",
        moduleArgs,
        ...(check ? ["--check"] : []),
      ],
      env: {
        // An own HOME: no real systemd user units, no real ~/.ansible.
        HOME: dir,
        ANSIBLE_COLLECTIONS_PATH: dir,
        ANSIBLE_LOCAL_TEMP: `${dir}/tmp`,
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_LOCALHOST_WARNING: "0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING: "0",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const match = /^localhost \| (\S+)(?: \| rc=\d+)? => /m.exec(stdout);
    assert(match !== null, `ansible printed no result:\n${stdout}\n${stderr}`);
    const result = JSON.parse(stdout.slice(match.index + match[0].length));
    return {
      outcome: match[1].replace(/!$/, ""),
      result,
      stderr: stderr + stdout.slice(0, match.index),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "Ansible: autostart true in check mode on a host without the unit would change, no warning",
  ignore: !HAVE_ANSIBLE, // needs ansible (apt-get install ansible-core)
  async fn() {
    await using h = await fakeHome();
    const run = await runModule(h.home, { state: "stopped", autostart: "true" }, true);
    assertEquals(run.outcome, "CHANGED", JSON.stringify(run.result));
    assertEquals(run.result.commands, ["enable-autostart"]);
    assert(!/does not report autostart/.test(run.stderr), run.stderr);
  },
});

Deno.test({
  name: "Ansible: autostart false on a host without the unit runs nothing and changes nothing",
  ignore: !HAVE_ANSIBLE, // needs ansible (apt-get install ansible-core)
  async fn() {
    await using h = await fakeHome();
    const run = await runModule(h.home, { state: "stopped", autostart: "false" });
    assertEquals(run.outcome, "SUCCESS", JSON.stringify(run.result));
    assertEquals(run.result.changed, false);
    assertEquals(run.result.commands, []);
  },
});

Deno.test({
  name:
    "Ansible: remote control without a login fails with changed true, and fails again on a rerun",
  ignore: !HAVE_ANSIBLE, // needs ansible (apt-get install ansible-core)
  async fn() {
    await using h = await fakeHome({ remoteControl: "errored" });
    try {
      const start = await runCli(h.home, ["start"]);
      assertEquals(start.json.status, "started", start.stdout);
      const first = await runModule(h.home, { state: "started", remote_control: "true" });
      assertEquals(first.outcome, "FAILED", JSON.stringify(first.result));
      assertEquals(first.result.code, "REMOTE_CONTROL_UNAVAILABLE");
      assertEquals(first.result.changed, true, "settings.json changed");
      const settings = JSON.parse(
        await Deno.readTextFile(`${h.home}/app-server-daemon/settings.json`),
      );
      assertEquals(settings.remoteControlEnabled, true);

      const rerun = await runModule(h.home, { state: "started", remote_control: "true" });
      assertEquals(rerun.outcome, "FAILED", JSON.stringify(rerun.result));
      assertEquals(rerun.result.code, "REMOTE_CONTROL_UNAVAILABLE");
      assertEquals(rerun.result.changed, false);
      assertMatch(String(rerun.result.hint), /codex login/);
    } finally {
      await killHomeProcesses(h.home);
    }
  },
});

const PYTHON = new Deno.Command("sh", { args: ["-c", "command -v python3"], stdout: "null" })
  .outputSync().success;

Deno.test({
  name: "the module reports the remote-control state and turns codexd's warnings into Ansible's",
  // Where python3 is missing the module cannot be evaluated.
  ignore: !PYTHON,
  fn: async () => {
    const connected = {
      status: "bootstrapped",
      remoteControlEnabled: true,
      remoteControl: { status: "connected", pairedClients: 0 },
      warnings: ["no device is paired with this host yet; pair one with: codexd pair"],
    };
    const [state, fromStatus, none, warnings] = await evaluate([
      ["remote_control_state", [connected]],
      ["remote_control_state", [{ status: "started" }, {
        remoteControlEnabled: true,
        remoteControl: { status: "errored" },
      }]],
      ["remote_control_state", [{ status: "started" }, { status: "running" }]],
      ["codexd_warnings", [[connected, { warnings: ["a", connected.warnings[0]] }, {}]]],
    ]);
    assertEquals(state, {
      enabled: true,
      status: "connected",
      connected: true,
      paired_clients: 0,
    });
    assertEquals(fromStatus, {
      enabled: true,
      status: "errored",
      connected: false,
      paired_clients: null,
    });
    assertEquals(none, null);
    assertEquals(warnings, [connected.warnings[0], "a"]);
    const source = await Deno.readTextFile(MODULE);
    assertMatch(source, /switch a running\s+app-server live/);
  },
});
