/**
 * Autostart units (`lib/autostart/unit.ts`): the systemd unit and the
 * launchd plist generated with absolute paths and pinned code, names stable
 * and distinct per CODEX_HOME, quoting and escaping (a home with spaces, %, $,
 * a trailing backslash or a newline), and the pure decisions (abnormal exit,
 * keeping a user's stop) by tables.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  execLine,
  exitedAbnormally,
  fnv1a32,
  keepsDownMarker,
  launchctlBootoutArgs,
  launchctlBootstrapArgs,
  launchdDomain,
  launchdLabel,
  quoteExecArg,
  renderLaunchdPlist,
  renderSystemdUnit,
  serviceName,
  type ServiceSpec,
  unitFileName,
} from "../../lib/autostart/unit.ts";
import { SPEC } from "../fixtures/service_spec.ts";

/** The unit's lines as systemd reads them: a line ending in `\` is joined with the next. */
function systemdLines(unit: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const line of unit.split("\n")) {
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    out.push(pending + line);
    pending = "";
  }
  return out;
}

Deno.test("fnv1a32() matches the published FNV-1a test vectors", () => {
  assertEquals(fnv1a32(""), "811c9dc5");
  assertEquals(fnv1a32("a"), "e40c292c");
  assertEquals(fnv1a32("foobar"), "bf9cf968");
});

Deno.test("serviceName() is readable, stable and distinct per CODEX_HOME", () => {
  const table: [string, RegExp][] = [
    ["/home/alice/.codex", /^codexd-home-alice-codex-[0-9a-f]{8}$/],
    ["/srv/Codex Homes/Team #1", /^codexd-srv-codex-homes-team-1-[0-9a-f]{8}$/],
    ["/", /^codexd-[0-9a-f]{8}$/],
    [`/very/${"deep/".repeat(30)}home`, /^codexd-[a-z0-9][a-z0-9-]{0,39}-[0-9a-f]{8}$/],
  ];
  for (const [home, pattern] of table) {
    assertMatch(serviceName(home), pattern, home);
    assertEquals(serviceName(home), serviceName(home));
  }
  // Same slug, different paths: the hash keeps them apart.
  assertNotEquals(serviceName("/a/b.codex"), serviceName("/a/b-codex"));
  assertEquals(unitFileName("/home/alice/.codex"), `${serviceName("/home/alice/.codex")}.service`);
  assertMatch(launchdLabel("/Users/bob/.codex"), /^dev\.codexd\.users-bob-codex-[0-9a-f]{8}$/);
});

Deno.test("quoteExecArg() escapes specifiers and variables and quotes what is not a word", () => {
  const table: [string, string][] = [
    ["/usr/local/bin/deno", "/usr/local/bin/deno"],
    ["--codex-home", "--codex-home"],
    ["/srv/50%/x", "/srv/50%%/x"],
    ["/srv/my home", '"/srv/my home"'],
    ["/srv/$HOME", '"/srv/$$HOME"'],
    ['/srv/"q"\\b', '"/srv/\\"q\\"\\\\b"'],
    ["https://jsr.io/@codexd/daemon/0.1.0/mod.ts", "https://jsr.io/@codexd/daemon/0.1.0/mod.ts"],
  ];
  for (const [input, expected] of table) assertEquals(quoteExecArg(input), expected, input);
  assertEquals(execLine(["/a b", "c"]), '"/a b" c');
});

Deno.test("renderSystemdUnit() starts codexd's supervisor with absolute paths and pinned code", () => {
  const unit = renderSystemdUnit(SPEC);
  const lines = unit.split("\n");
  for (
    const line of [
      "[Service]",
      "Type=forking",
      "PIDFile=/home/alice/.codex/app-server-daemon/autostart.pid",
      'Environment="CODEX_HOME=/home/alice/.codex"',
      `Environment="CODEXD_AUTOSTART_UNIT=${unitFileName(SPEC.codexHome)}"`,
      "ExecStart=/usr/local/bin/deno run -A /opt/codexd/mod.ts autostart-start --codex-home /home/alice/.codex",
      "ExecReload=/usr/local/bin/deno run -A /opt/codexd/mod.ts restart --codex-home /home/alice/.codex",
      "ExecStop=/usr/local/bin/deno run -A /opt/codexd/mod.ts stop --all --codex-home /home/alice/.codex",
      "ExecStopPost=/usr/local/bin/deno run -A /opt/codexd/mod.ts autostart-stopped --codex-home /home/alice/.codex",
      "Restart=on-abnormal",
      "KillMode=process",
      "TimeoutStopSec=90",
      "WantedBy=default.target",
    ]
  ) assert(lines.includes(line), `missing ${line} in\n${unit}`);
  // The pitfalls of the hand-written units this replaces.
  assert(!/RemainAfterExit|Type=oneshot|Restart=always/.test(unit), unit);
  assert(!unit.includes("DENO_DIR"), "the default cache needs no setting");
  assert(
    renderSystemdUnit({ ...SPEC, denoDir: "/srv/deno" }).includes(
      'Environment="DENO_DIR=/srv/deno"',
    ),
  );
  assert(unit.endsWith("\n"));
});

Deno.test("renderSystemdUnit() quotes a CODEX_HOME with spaces, % and $, and rejects newlines", () => {
  const home = "/srv/50% of $team";
  const unit = renderSystemdUnit({
    ...SPEC,
    codexHome: home,
    stateDir: `${home}/app-server-daemon`,
  });
  assert(unit.includes('Environment="CODEX_HOME=/srv/50%% of $team"'), unit);
  assert(unit.includes('--codex-home "/srv/50%% of $$team"'), unit);
  assert(unit.includes("PIDFile=/srv/50%% of $team/app-server-daemon/autostart.pid"), unit);
  let threw = false;
  try {
    renderSystemdUnit({ ...SPEC, codexHome: "/srv/a\nExecStart=/bin/evil" });
  } catch {
    threw = true;
  }
  assert(threw, "a newline in a path must not reach the unit file");
});

Deno.test("renderLaunchdPlist() runs at load, keeps alive only after a failed start, escapes XML", () => {
  const plist = renderLaunchdPlist(
    { ...SPEC, codexHome: "/Users/bob/R&D <codex>" },
    "/Users/bob/R&D <codex>/app-server-daemon/app-server-updater.log",
  );
  assert(plist.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
  assert(plist.includes(`<string>${launchdLabel("/Users/bob/R&D <codex>")}</string>`));
  assert(plist.includes("<string>/Users/bob/R&amp;D &lt;codex&gt;</string>"), plist);
  assert(!plist.includes("R&D"), "unescaped ampersand");
  assertMatch(plist, /<key>RunAtLoad<\/key>\s*<true\/>/);
  assertMatch(plist, /<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
  assertMatch(plist, /<key>AbandonProcessGroup<\/key>\s*<true\/>/);
  const args = [...plist.matchAll(/^ {4}<string>(.*)<\/string>$/gm)].map((m) => m[1]);
  assertEquals(args.slice(0, 5), [
    "/usr/local/bin/deno",
    "run",
    "-A",
    "/opt/codexd/mod.ts",
    "autostart-start",
  ]);
});

Deno.test("launchd commands: gui domain with a GUI login, user domain over SSH", () => {
  assertEquals(launchdDomain(501, true), "gui/501");
  assertEquals(launchdDomain(501, false), "user/501");
  assertEquals(launchctlBootstrapArgs("user/501", "/p.plist"), [
    "bootstrap",
    "user/501",
    "/p.plist",
  ]);
  assertEquals(launchctlBootoutArgs("gui/501", "dev.codexd.x"), [
    "bootout",
    "gui/501/dev.codexd.x",
  ]);
});

Deno.test("exitedAbnormally() matches Restart=on-abnormal", () => {
  const table: [string | undefined, string | undefined, boolean][] = [
    [undefined, undefined, false], // systemctl stop while it ran
    ["exited", "0", false],
    ["exited", "3", false], // supervision gave up: failed, not restarted
    ["killed", "TERM", false], // a user's stop --all
    ["killed", "HUP", false],
    ["killed", "KILL", true],
    ["killed", "SEGV", true],
    ["dumped", "ABRT", true],
  ];
  for (const [code, status, expected] of table) {
    assertEquals(exitedAbnormally(code, status), expected, `${code} ${status}`);
  }
});

Deno.test("keepsDownMarker() keeps a user's stop only across a restart within this boot", () => {
  const boot = "0c5a7b52-1f0e-4c1e-9d7e-3f2b1a9c8d7e";
  assertEquals(keepsDownMarker(undefined, boot), false); // boot or systemctl start
  assertEquals(keepsDownMarker(`${boot}\n`, boot), true); // supervisor killed this boot
  assertEquals(keepsDownMarker("another-boot\n", boot), false); // note left by the previous boot
});

Deno.test("renderSystemdUnit() keeps every setting on its own line when CODEX_HOME ends in a backslash", () => {
  const table = ["/home/a/codex\\", "/home/a/co\\dex", "/home/a/codex "];
  for (const codexHome of table) {
    const spec: ServiceSpec = {
      codexHome,
      denoPath: "/usr/local/bin/deno",
      entry: "/opt/codexd/mod.ts",
      stateDir: `${codexHome}/app-server-daemon`,
      shutdownGraceSeconds: 60,
    };
    const unit = renderSystemdUnit(spec);
    const lines = unit.split("\n");
    assertEquals(lines.filter((line) => line.endsWith("\\")), [], codexHome);
    assertEquals(systemdLines(unit).length, lines.length, codexHome);
    assert(lines.some((line) => line.startsWith("Description=")), codexHome);
    assert(lines.some((line) => line === `PIDFile=${codexHome}/app-server-daemon/autostart.pid`));
  }
});
