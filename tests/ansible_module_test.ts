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
import { assertEquals, assertMatch } from "./support/assert.ts";
import { REPO_ROOT } from "./support/helpers.ts";
import { needs } from "./support/host.ts";

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
      "bootstrapped with a version installs it when missing",
      "bootstrapped",
      facts(),
      { version: "0.169.0" },
      [["bootstrap", ["--install", "--version", "0.169.0"]]],
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
  const [parsed, after, stoppedAfter, refused, allowed, json, none, ignored, applied] =
    await evaluate([
      ["facts_of", [status]],
      ["predict_after", ["bootstrapped", facts(), { remote_control: true }]],
      ["predict_after", ["stopped", facts(SUPERVISED), {}]],
      ["validate", [{ auto_update: true, codex_bin: "/usr/bin/codex" }]],
      ["validate", [{ auto_update: false, codex_bin: "/usr/bin/codex" }]],
      ["parse_json", ['Download x\n{"status":"started"}\n']],
      ["parse_json", ["not json\n"]],
      ["ignored_options", ["started", { auto_update: false, install: true, version: null }]],
      ["ignored_options", ["bootstrapped", { auto_update: false, install: true }]],
    ]);
  assertEquals(parsed, facts({ ...SUPERVISED, updaterRunning: false, managedCodexPath: "/c" }));
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
