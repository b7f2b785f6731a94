/**
 * Out-of-band upgrades: the decision by a table, the `launched-binary`
 * record (its signature is what `stat(1)` prints, so the updater's `sh` loop
 * compares it with one `stat`), and black-box runs against the fake
 * app-server: a hand-run install.sh-style swap of `current` and an
 * `npm i -g`-style replacement of `--codex-bin` are followed by one check
 * (`codexd follow-binary`, driven directly) when idle, deferred while a turn
 * runs (`status` shows `pendingRestart.reason: "binary replaced"`) and
 * applied once it ends; a codexd pin and `updater.followBinary: false` hold.
 * One end-to-end run of the resident loop noticing the swap by itself.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../support/assert.ts";
import {
  configureFake,
  eventually,
  fakeHome,
  pointCurrent,
  runCli,
  TARGET,
} from "../support/helpers.ts";
import { fakeLauncherScript } from "../fixtures/test_registry.ts";
import {
  formatLaunchedBinary,
  type LaunchedBinary,
  parseLaunchedBinary,
  signatureNow,
  statFormat,
} from "../../lib/state/binary_watch.ts";
import {
  decideFollow,
  type FollowDecision,
  type FollowFacts,
} from "../../lib/updater/follow_binary.ts";

const RECORD = "app-server-daemon/launched-binary";

Deno.test("decideFollow() asks --version only on a change and restarts only onto another version", () => {
  const base: FollowFacts = {
    recorded: "1:2:3:4",
    now: "1:9:3:4",
    runningVersion: "1.0.0",
    pending: false,
  };
  const table: [string, FollowFacts, FollowDecision][] = [
    ["same signature: nothing to ask", { ...base, now: "1:2:3:4" }, { kind: "unchanged" }],
    ["gone: keep running", { ...base, now: "missing" }, { kind: "missing" }],
    ["changed: ask the binary", base, { kind: "askVersion" }],
    ["--version failed", { ...base, newVersion: "?" }, { kind: "unreadable" }],
    ["touched, same release", { ...base, newVersion: "1.0.0" }, { kind: "sameVersion" }],
    ["another release: restart", { ...base, newVersion: "2.0.0" }, {
      kind: "restart",
      toVersion: "2.0.0",
    }],
    ["a restart already waits: it runs the new binary", {
      ...base,
      newVersion: "2.0.0",
      pending: true,
    }, { kind: "pending", toVersion: "2.0.0" }],
    ["pinned elsewhere: not followed", { ...base, newVersion: "2.0.0", pinnedVersion: "1.0.0" }, {
      kind: "pinned",
      toVersion: "2.0.0",
    }],
    ["pinned to the new one: followed", { ...base, newVersion: "2.0.0", pinnedVersion: "2.0.0" }, {
      kind: "restart",
      toVersion: "2.0.0",
    }],
  ];
  for (const [name, facts, expected] of table) assertEquals(decideFollow(facts), expected, name);
});

Deno.test("the launched-binary line round-trips, refuses paths the loop cannot read back, and its signature is stat(1)'s", async () => {
  const record: LaunchedBinary = {
    signature: "2049:77:1024:1700000000",
    pid: 42,
    version: "0.169.0",
    path: "/home/a b/.codex/packages/standalone/current/codex",
  };
  const line = formatLaunchedBinary(record);
  assertEquals(line, `2049:77:1024:1700000000 42 0.169.0 ${record.path}\n`);
  assertEquals(parseLaunchedBinary(line!), record);
  assertEquals(formatLaunchedBinary({ ...record, path: "relative/codex" }), undefined);
  assertEquals(formatLaunchedBinary({ ...record, path: "/a\nb" }), undefined);
  assertEquals(formatLaunchedBinary({ ...record, path: "/trailing " }), undefined);
  assertEquals(parseLaunchedBinary("garbage"), undefined);

  const dir = await Deno.makeTempDir({ prefix: "codexd-sig-" });
  try {
    const file = `${dir}/codex`;
    await Deno.writeTextFile(file, "x");
    await Deno.symlink(file, `${dir}/link`);
    const [flag, format] = statFormat();
    const out = await new Deno.Command("stat", { args: ["-L", flag, format, `${dir}/link`] })
      .output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), await signatureNow(`${dir}/link`));
    assertEquals(await signatureNow(`${dir}/none`), "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes a release of the fake reporting `version` beside the home's others. */
async function fakeRelease(home: string, version: string): Promise<string> {
  const dir = `${home}/packages/standalone/releases/${version}-${TARGET}`;
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/bin/codex`, fakeLauncherScript(version), { mode: 0o755 });
  await Deno.symlink("bin/codex", `${dir}/codex`);
  return `${version}-${TARGET}`;
}

async function recorded(home: string): Promise<LaunchedBinary | undefined> {
  return parseLaunchedBinary(await Deno.readTextFile(`${home}/${RECORD}`).catch(() => ""));
}

async function writeSettings(home: string, value: unknown): Promise<void> {
  await Deno.mkdir(`${home}/app-server-daemon`, { recursive: true });
  await Deno.writeTextFile(`${home}/app-server-daemon/settings.json`, JSON.stringify(value));
}

Deno.test("a hand-run install.sh swap of current is followed by one check when idle", async () => {
  await using h = await fakeHome({ version: "1.0.0" });
  const started = await runCli(h.home, ["start"]);
  const record = await recorded(h.home);
  assertEquals(record?.pid, started.json.pid);
  assertEquals(record?.version, "1.0.0");
  assertEquals(record?.path, `${h.home}/packages/standalone/current/codex`);
  assertEquals(record?.signature, await signatureNow(record!.path));
  assertEquals((await runCli(h.home, ["follow-binary"])).json.status, "unchanged");

  await pointCurrent(h.home, await fakeRelease(h.home, "2.0.0"));
  assertNotEquals(await signatureNow(record!.path), record?.signature, "the loop's stat sees it");
  const follow = await runCli(h.home, ["follow-binary"]);
  assertEquals(follow.code, 0, follow.stdout + follow.stderr);
  assertEquals(follow.json.status, "restarted");
  assertEquals(follow.json.fromVersion, "1.0.0");
  assertEquals(follow.json.toVersion, "2.0.0");
  const status = await runCli(h.home, ["status"]);
  assertEquals(status.json.appServerVersion, "2.0.0");
  assertEquals(status.json.pendingRestart, null);
  assertEquals((await recorded(h.home))?.version, "2.0.0");
  assertEquals((await runCli(h.home, ["follow-binary"])).json.status, "unchanged");
  const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
  assertEquals(log.match(/binary replaced: /g)?.length, 1, log);
  assertMatch(
    log,
    /binary replaced: .*current\/codex now reports 2\.0\.0; the app-server runs 1\.0\.0/,
  );
});

Deno.test("an npm i -g replacement of --codex-bin waits for the running turn, then the new version serves", async () => {
  await using h = await fakeHome({ activeTurns: 1 });
  const bin = await Deno.makeTempDir({ prefix: "codexd-npm-g-" });
  try {
    const codex = `${bin}/codex`;
    // npm stamps every file of every release 1985-10-26: only the inode tells them apart.
    const npmTime = new Date("1985-10-26T08:15:00Z");
    const install = async (version: string): Promise<void> => {
      await Deno.writeTextFile(`${bin}/.codex-new`, fakeLauncherScript(version), { mode: 0o755 });
      await Deno.utime(`${bin}/.codex-new`, npmTime, npmTime);
      await Deno.rename(`${bin}/.codex-new`, codex);
    };
    await install("1.0.0");
    await writeSettings(h.home, { codexBin: codex });
    const started = await runCli(h.home, ["start"]);
    assertEquals(started.json.appServerVersion, "1.0.0");
    const before = await signatureNow(codex);
    await install("2.0.0");
    const after = await signatureNow(codex);
    assertNotEquals(after, before);
    assertEquals(after.split(":").slice(2), before.split(":").slice(2), "same size and mtime");

    const deferred = await runCli(h.home, ["follow-binary"]);
    assertEquals(deferred.code, 0, deferred.stdout + deferred.stderr);
    assertEquals(deferred.json.status, "deferred");
    assertEquals(deferred.json.activeTurns, 1);
    const waiting = await runCli(h.home, ["status"]);
    assertEquals(waiting.json.pid, started.json.pid);
    assertEquals(waiting.json.appServerVersion, "1.0.0");
    const pending = waiting.json.pendingRestart as Record<string, unknown>;
    assertEquals(pending.reason, "binary replaced");
    assertEquals(pending.toVersion, "2.0.0");
    // The next checks see nothing new: no Deno per check while it waits.
    assertEquals((await runCli(h.home, ["follow-binary"])).json.status, "unchanged");
    assertEquals((await runCli(h.home, ["apply-pending"])).json.status, "waiting");

    // The turn completes; the updater's next apply-pending restarts onto 2.0.0.
    await configureFake(h.home, { activeTurns: 0 });
    const applied = await runCli(h.home, ["apply-pending"]);
    assertEquals(applied.json.status, "applied", applied.stdout + applied.stderr);
    const status = await runCli(h.home, ["status"]);
    assertEquals(status.json.appServerVersion, "2.0.0");
    assertEquals(status.json.managedCodexPath, codex);
    assertEquals(status.json.pendingRestart, null);
    assertEquals(status.json.pin, { by: "codexBin", path: codex });
    const log = await Deno.readTextFile(`${h.home}/app-server-daemon/app-server-updater.log`);
    assertMatch(log, /restart deferred \(binary replaced\): 1 active turn/);
    assertMatch(log, /restart applied \(idle\): binary replaced/);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("a codexd pin is not overridden by an out-of-band swap, and followBinary: false turns it off", async () => {
  await using h = await fakeHome({ version: "1.0.0" });
  await writeSettings(h.home, { updater: { pinnedVersion: "1.0.0" } });
  const started = await runCli(h.home, ["start"]);
  await pointCurrent(h.home, await fakeRelease(h.home, "2.0.0"));
  const pinned = await runCli(h.home, ["follow-binary"]);
  assertEquals(pinned.json.status, "pinned", pinned.stdout + pinned.stderr);
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);
  assertEquals((await runCli(h.home, ["follow-binary"])).json.status, "unchanged");

  await writeSettings(h.home, { updater: { followBinary: false } });
  await pointCurrent(h.home, await fakeRelease(h.home, "3.0.0"));
  assertEquals((await runCli(h.home, ["follow-binary"])).json.status, "disabled");
  assertEquals(await recorded(h.home), undefined, "nothing left for the loop to stat");
  assertEquals((await runCli(h.home, ["status"])).json.pid, started.json.pid);
});

Deno.test("a server codexd did not record gets a baseline from its running image", async () => {
  await using h = await fakeHome({ version: "1.0.0" });
  const started = await runCli(h.home, ["start"]);
  await Deno.remove(`${h.home}/${RECORD}`);
  const follow = await runCli(h.home, ["follow-binary"]);
  assertEquals(follow.code, 0, follow.stdout + follow.stderr);
  assertEquals(follow.json.status, "unchanged");
  assertEquals((await recorded(h.home))?.pid, started.json.pid);
});

Deno.test("the resident updater loop notices a swapped current by itself and the new version serves", async () => {
  await using h = await fakeHome({ version: "1.0.0" });
  await writeSettings(h.home, {
    updater: { firstPassDelaySeconds: 3600, supervision: { checkSeconds: 1 } },
  });
  try {
    const boot = await runCli(h.home, ["bootstrap", "--no-auto-update"]);
    assertEquals(boot.code, 0, boot.stdout + boot.stderr);
    await pointCurrent(h.home, await fakeRelease(h.home, "2.0.0"));
    let version: unknown;
    assert(
      await eventually(
        async () => {
          version = (await runCli(h.home, ["status"])).json.appServerVersion;
          return version === "2.0.0";
        },
        60_000,
        500,
      ),
      `still ${version}`,
    );
  } finally {
    await runCli(h.home, ["stop", "--all"]);
  }
});

Deno.test("an updater pass follows a replaced --codex-bin too (loops of older codexd, hosts without stat)", async () => {
  await using h = await fakeHome();
  const bin = await Deno.makeTempDir({ prefix: "codexd-pass-follow-" });
  try {
    const codex = `${bin}/codex`;
    await Deno.writeTextFile(codex, fakeLauncherScript("1.0.0"), { mode: 0o755 });
    await writeSettings(h.home, { codexBin: codex });
    await runCli(h.home, ["start"]);
    await Deno.writeTextFile(`${bin}/.new`, fakeLauncherScript("2.0.0"), { mode: 0o755 });
    await Deno.rename(`${bin}/.new`, codex);
    const pass = await runCli(h.home, ["update", "--updater-pass"]);
    assertEquals(pass.code, 0, pass.stdout + pass.stderr);
    assertEquals(pass.json.status, "pinned");
    assertEquals((await runCli(h.home, ["status"])).json.appServerVersion, "2.0.0");
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
