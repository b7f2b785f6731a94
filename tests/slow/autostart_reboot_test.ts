/**
 * The autostart promise, proven with real boots: a Debian box under
 * systemd-nspawn (tests/support/nspawn.ts), the real codex 0.169.0, codexd
 * from this checkout, a non-root user driving it over SSH with the bare
 * PATH of a non-interactive session.
 *
 * enable-autostart → power cut → boot → with nobody logged in the
 * app-server answers within 30 s, with remote control → `stop` holds for
 * 10 s (also across a SIGKILLed supervisor) → `start` works → clean
 * reboot → running → disable-autostart → reboot → stopped.
 *
 * "Nobody logged in" is observed with `nsenter` + `setpriv` (no PAM, so no
 * logind session; the test checks `loginctl list-sessions` is empty), never
 * with SSH, because an SSH login would start the user's units itself.
 *
 * Needs root, systemd-nspawn and debootstrap (or a cached rootfs); ignored
 * with a printed reason otherwise (the rootfs is built, once, while the
 * module loads, so that a failed debootstrap also counts as "cannot run here"). Slow: `deno task test:slow`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { REPO_ROOT } from "../support/helpers.ts";
import { ensureRealCodex, REAL_CODEX_VERSION } from "../support/real_codex.ts";
import { TARGET } from "../support/helpers.ts";
import { type BoxRun, boxUnavailable, createBox, ensureRootfs } from "../support/nspawn.ts";
import { needs } from "../support/host.ts";

/** The box's rootfs, or why no box can boot on this host. */
const prepared = await (async () => {
  const why = await boxUnavailable();
  return why ? { skipped: why } : await ensureRootfs();
})();
const noBox = "skipped" in prepared ? prepared.skipped : undefined;

/** How long after the boot starts the app-server must answer. */
const BOOT_START_BOUND_MS = 30_000;
/** How long a user's stop must hold. */
const STOP_HOLDS_MS = 10_000;

// The one-file bundle: it needs no jsr: resolution, which the box's boot-time
// units could not do offline (no JSR_URL there); tests/distribution/bundle_test.ts keeps it current.
const CODEXD = "deno run -A /opt/codexd/dist/codexd.js";
const USER_MANAGER = "XDG_RUNTIME_DIR=/run/user/$(id -u) systemctl --user";

function json(run: BoxRun): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new Error(`not one JSON object (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

async function poll(
  what: string,
  boundMs: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < boundMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not within ${boundMs} ms`);
}

Deno.test({
  name: "enable-autostart brings the app-server back after a power cut with nobody logged in",
  ...needs(noBox),
  fn: async () => {
    const t0 = Date.now();
    if ("skipped" in prepared) throw new Error(prepared.skipped);
    const rootfs = prepared;
    const tRootfs = Date.now();
    const release = await ensureRealCodex(REAL_CODEX_VERSION);
    await using box = await createBox(rootfs.rootfs, {
      [Deno.execPath()]: "/usr/local/bin/deno",
      [REPO_ROOT]: "/opt/codexd",
      [release]: "/opt/codex-release",
    });
    // The real codex in the user's CODEX_HOME, in the standalone layout.
    const name = `${REAL_CODEX_VERSION}-${TARGET}`;
    const standalone = `${box.root}/home/alice/.codex/packages/standalone`;
    await Deno.mkdir(`${standalone}/releases`, { recursive: true });
    await Deno.symlink("/opt/codex-release", `${standalone}/releases/${name}`);
    await Deno.symlink(`releases/${name}`, `${standalone}/current`);
    const chown = await new Deno.Command("/bin/chown", {
      args: ["-hR", "1000:1000", `${box.root}/home/alice/.codex`],
    }).output();
    assert(chown.success);

    const timings: Record<string, number> = {};
    const phase = (label: string, since: number) => timings[label] = Date.now() - since;
    let mark = Date.now();
    try {
      // Boot 1: the user enables autostart over SSH.
      await box.boot();
      phase("boot1", mark);
      const enabled = await box.ssh(`${CODEXD} enable-autostart --remote-control`);
      const out = json(enabled);
      assertEquals(enabled.code, 0, enabled.stdout + enabled.stderr);
      assertEquals(out.status, "enabled");
      assertEquals(out.remoteControlEnabled, true);
      assertEquals(out.appServerRunning, true);
      const autostart = out.autostart as Record<string, unknown>;
      assertEquals([autostart.manager, autostart.enabled, autostart.linger], [
        "systemd-user",
        true,
        true,
      ]);
      const unit = String(autostart.unit).split("/").at(-1)!;
      console.log(
        `generated ${autostart.unit}:\n${await Deno.readTextFile(`${box.root}${autostart.unit}`)}`,
      );
      const again = json(await box.ssh(`${CODEXD} enable-autostart --remote-control`));
      assertEquals(again.status, "alreadyEnabled");

      // Power cut, boot 2: nobody logs in.
      await box.powerCut();
      mark = Date.now();
      await box.boot();
      const upAfter = await poll("status exits 0 after the boot", BOOT_START_BOUND_MS, async () => {
        return (await box.asUser(`${CODEXD} status`)).code === 0;
      });
      timings["boot2 → status 0"] = Date.now() - mark;
      console.log(`app-server answered ${upAfter} ms after the box was reachable`);
      const sessions = await box.asRoot("loginctl list-sessions --no-legend");
      assertEquals(sessions.stdout.trim(), "", "somebody is logged in");
      const status = json(await box.asUser(`${CODEXD} status`));
      assertEquals(status.remoteControlEnabled, true);
      assertEquals((status.autostart as Record<string, unknown>).enabled, true);
      assertEquals((status.updater as Record<string, unknown>).running, true);
      const cmdline = await box.asUser(`tr '\\0' ' ' < /proc/${status.pid}/cmdline`);
      assertMatch(cmdline.stdout, /app-server --remote-control/);
      const version = await box.asUser(`${CODEXD} version`);
      assertEquals(version.code, 0, version.stdout);
      assertEquals(json(version).appServerVersion, REAL_CODEX_VERSION);
      const active = await box.asUser(`${USER_MANAGER} is-active ${unit}`);
      assertEquals(active.stdout.trim(), "active");

      // systemd follows codexd's supervisor: it is the unit's main process.
      const mainPid = async () =>
        Number((await box.asUser(`${USER_MANAGER} show -p MainPID --value ${unit}`)).stdout.trim());
      assertEquals(await mainPid(), (status.updater as Record<string, unknown>).pid);

      // A crashed app-server comes back (codexd's supervision; systemd stays out of it).
      await box.asUser(`kill -9 ${status.pid}`);
      mark = Date.now();
      await poll("the crashed app-server is back", BOOT_START_BOUND_MS, async () => {
        const run = await box.asUser(`${CODEXD} status`);
        return run.code === 0 && json(run).pid !== status.pid;
      });
      phase("crash → back", mark);

      // A user's stop holds: systemd does not undo it, not even when it
      // restarts the supervisor after a SIGKILL (Restart=on-abnormal).
      const stopped = await box.ssh(`${CODEXD} stop`);
      assertEquals([stopped.code, json(stopped).status], [0, "stopped"]);
      const supervisor = await mainPid();
      await box.asUser(`kill -9 ${supervisor}`);
      mark = Date.now();
      while (Date.now() - mark < STOP_HOLDS_MS) {
        const probe = await box.asUser(`${CODEXD} status`);
        assertEquals(probe.code, 3, `the app-server came back after a user stop: ${probe.stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      const restarts = await box.asUser(`${USER_MANAGER} show -p NRestarts -p ActiveState ${unit}`);
      assertMatch(restarts.stdout, /NRestarts=1/);
      assertMatch(restarts.stdout, /ActiveState=active/);
      const newSupervisor = await mainPid();
      assert(newSupervisor > 0 && newSupervisor !== supervisor, `main pid ${newSupervisor}`);
      const started = await box.ssh(`${CODEXD} start`);
      assertEquals([started.code, json(started).status], [0, "started"], started.stdout);
      assertEquals((await box.asUser(`${CODEXD} status`)).code, 0);

      // A clean reboot (ExecStop runs `stop --all`, which marks it down): the boot clears that.
      mark = Date.now();
      await box.asRoot("systemctl reboot");
      if (!(await box.halted())) throw new Error("the box did not halt on systemctl reboot");
      await box.boot();
      await poll("status exits 0 after a clean reboot", BOOT_START_BOUND_MS, async () => {
        return (await box.asUser(`${CODEXD} status`)).code === 0;
      });
      phase("reboot2 → status 0", mark);

      // Disable: the running app-server keeps running, the next boot does not start it.
      const disabled = await box.ssh(`${CODEXD} disable-autostart`);
      const off = json(disabled);
      assertEquals(
        [disabled.code, off.status, off.autostart],
        [0, "disabled", null],
        disabled.stdout,
      );
      assertEquals(off.appServerRunning, true);
      assertEquals(json(await box.ssh(`${CODEXD} disable-autostart`)).status, "alreadyDisabled");
      mark = Date.now();
      await box.asRoot("systemctl reboot");
      if (!(await box.halted())) await box.powerCut();
      await box.boot();
      // Linger is still on: once alice's manager is up, default.target has been reached.
      await poll("the user manager is up", BOOT_START_BOUND_MS, async () => {
        const run = await box.asUser(`${USER_MANAGER} is-system-running`);
        return /^(running|degraded)$/.test(run.stdout.trim());
      });
      phase("reboot3 → user manager up", mark);
      const after = await box.asUser(`${CODEXD} status`);
      assertEquals(after.code, 3, after.stdout);
      assertEquals(json(after).autostart, null);
    } catch (error) {
      console.log(`console of the box:\n${(await box.consoleLog()).slice(-4000)}`);
      throw error;
    } finally {
      console.log(
        `timings (ms): rootfs ${rootfs.built ? "built" : "cached"} ${tRootfs - t0}, ${
          Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(", ")
        }, total ${Date.now() - t0}`,
      );
    }
  },
});

Deno.test({
  name:
    "enable-autostart without polkit reports linger: false with the fix and still starts the unit",
  ...needs(noBox),
  fn: async () => {
    if ("skipped" in prepared) throw new Error(prepared.skipped);
    const rootfs = prepared;
    const release = await ensureRealCodex(REAL_CODEX_VERSION);
    await using box = await createBox(rootfs.rootfs, {
      [Deno.execPath()]: "/usr/local/bin/deno",
      [REPO_ROOT]: "/opt/codexd",
      [release]: "/opt/codex-release",
    });
    const name = `${REAL_CODEX_VERSION}-${TARGET}`;
    const standalone = `${box.root}/home/alice/.codex/packages/standalone`;
    await Deno.mkdir(`${standalone}/releases`, { recursive: true });
    await Deno.symlink("/opt/codex-release", `${standalone}/releases/${name}`);
    await Deno.symlink(`releases/${name}`, `${standalone}/current`);
    await new Deno.Command("/bin/chown", {
      args: ["-hR", "1000:1000", `${box.root}/home/alice/.codex`],
    })
      .output();
    // Without polkit logind refuses a normal user's enable-linger ("Access denied").
    await Deno.symlink("/dev/null", `${box.root}/etc/systemd/system/polkit.service`);
    await box.boot();
    const run = await box.ssh(`${CODEXD} enable-autostart`);
    const out = json(run);
    assertEquals([run.code, out.status], [0, "enabled"], run.stdout + run.stderr);
    assertEquals((out.autostart as Record<string, unknown>).linger, false);
    assertEquals(out.hint, "sudo loginctl enable-linger alice");
    assertMatch(String((out.warnings as string[])[0]), /only after alice logs in/);
    assertEquals(out.appServerRunning, true);
    const status = json(await box.asUser(`${CODEXD} status`));
    assertEquals((status.autostart as Record<string, unknown>).linger, false);
  },
});
