/**
 * A real Debian that boots under `systemd-nspawn`, for the autostart reboot
 * test: a minimal bookworm rootfs built once with debootstrap and cached
 * outside the repository (`<test cache>/rootfs-bookworm`, built in a temp
 * dir and renamed, so a half-built rootfs is never reused), a per-test
 * writable copy ("box") that keeps its state across the boots of one test,
 * a non-root user with an SSH key, and ways to act inside without logging
 * in (`nsenter` + `setpriv`, no PAM, no logind session).
 *
 * Power cut = SIGKILL to the box's init (killing only the nspawn process
 * leaves the container's systemd running: measured) and to nspawn.
 *
 * @module
 */
import { exec, mustExec } from "./exec.ts";
import { testCacheDir } from "./real_codex.ts";
import { SSH_CLIENT_OPTIONS } from "./sshd.ts";

/** Packages the box needs: systemd as init, logind + polkit (linger), dbus, sshd. */
export const ROOTFS_PACKAGES =
  "systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,openssh-server,polkitd";
/** Bound of building the rootfs (measured ~40 s). */
export const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;
/** Bound of a box's boot until sshd accepts connections (measured ~0.2 s). */
export const BOOT_TIMEOUT_MS = 60_000;
/** Bound of nspawn's exit after a reboot or a power cut. */
export const HALT_TIMEOUT_MS = 60_000;
/** Bound of one command inside the box. */
export const BOX_COMMAND_TIMEOUT_MS = 120_000;
/** The box user's uid. */
export const BOX_UID = 1000;
/** The box user's name. */
export const BOX_USER = "alice";
/** The PATH of a non-interactive session (and of a systemd unit). */
export const BARE_PATH = "/usr/local/bin:/usr/bin:/bin";

const NSPAWN = "/usr/bin/systemd-nspawn";
const DEBOOTSTRAP = "/usr/sbin/debootstrap";

/** What a command in the box printed. */
export interface BoxRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why the box cannot run here, or `undefined` when it can. */
export async function boxUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "systemd-nspawn needs Linux";
  if (Deno.uid() !== 0) return "systemd-nspawn and debootstrap need root";
  for (const tool of [NSPAWN, "/usr/bin/nsenter", "/usr/bin/ssh", "/usr/bin/ssh-keygen"]) {
    try {
      await Deno.stat(tool);
    } catch {
      return `${tool} is missing (apt-get install systemd-container openssh-client util-linux)`;
    }
  }
  return undefined;
}

/** The Debian mirror from this machine's apt sources (deb822 or one-line). */
export function debianMirror(sources: string[]): string | undefined {
  for (const text of sources) {
    for (const line of text.split("\n")) {
      const deb822 = /^URIs:\s*(\S+)/.exec(line);
      const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
      const uri = deb822?.[1] ?? oneLine?.[1];
      if (uri && /\/debian\/?$/.test(uri)) return uri;
    }
  }
  return undefined;
}

function readSources(): string[] {
  const texts: string[] = [];
  for (const file of ["/etc/apt/sources.list"]) {
    try {
      texts.push(Deno.readTextFileSync(file));
    } catch {
      // absent
    }
  }
  try {
    for (const entry of Deno.readDirSync("/etc/apt/sources.list.d")) {
      if (!/\.(list|sources)$/.test(entry.name)) continue;
      texts.push(Deno.readTextFileSync(`/etc/apt/sources.list.d/${entry.name}`));
    }
  } catch {
    // absent
  }
  return texts;
}

/**
 * Returns the cached rootfs, building it first when missing. Returns
 * `{ skipped }` when debootstrap is missing or fails (no mirror reachable).
 */
export async function ensureRootfs(): Promise<
  { rootfs: string; built: boolean } | { skipped: string }
> {
  const cache = testCacheDir();
  const rootfs = `${cache}/rootfs-bookworm`;
  await Deno.mkdir(cache, { recursive: true });
  using lock = await Deno.open(`${cache}/rootfs.lock`, { read: true, write: true, create: true });
  await lock.lock(true);
  try {
    try {
      await Deno.stat(`${rootfs}/usr/lib/systemd/systemd`);
      return { rootfs, built: false };
    } catch {
      // not built yet
    }
    try {
      await Deno.stat(DEBOOTSTRAP);
    } catch {
      return { skipped: `${DEBOOTSTRAP} is missing (apt-get install debootstrap)` };
    }
    const mirror = debianMirror(readSources()) ?? "http://deb.debian.org/debian";
    const temp = await Deno.makeTempDir({ dir: cache, prefix: ".rootfs-" });
    try {
      const run = await exec(DEBOOTSTRAP, [
        "--variant=minbase",
        `--include=${ROOTFS_PACKAGES}`,
        "bookworm",
        `${temp}/root`,
        mirror,
      ], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS, group: true });
      if (!run.success) {
        return {
          skipped: `debootstrap from ${mirror} failed: ${
            (run.stderr || run.stdout).trim().split("\n").slice(-3).join(" ")
          }`,
        };
      }
      await Deno.rename(`${temp}/root`, rootfs);
      return { rootfs, built: true };
    } finally {
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    }
  } finally {
    await lock.unlock();
  }
}

/** Read-only binds into the box: host path → box path. */
export type Binds = Record<string, string>;

/** A writable copy of the rootfs that can boot, be powered off and boot again. */
export interface Box extends AsyncDisposable {
  /** The copy's root directory. */
  root: string;
  /** The SSH address inside (shared host network): 127.0.0.x. */
  address: string;
  /** sshd's port. */
  port: number;
  /** Boots the box and waits until sshd accepts connections. */
  boot(): Promise<void>;
  /** SIGKILLs the box's init and nspawn: a power cut. */
  powerCut(): Promise<void>;
  /** Waits until nspawn exits by itself (after `systemctl reboot` inside). */
  halted(timeoutMs?: number): Promise<boolean>;
  /** Runs `sh -c command` as the box user without any login (no PAM, no session). */
  asUser(command: string, timeoutMs?: number): Promise<BoxRun>;
  /** Runs `sh -c command` as root inside the box. */
  asRoot(command: string, timeoutMs?: number): Promise<BoxRun>;
  /** Runs `command` as the box user over SSH (a real login, bare PATH). */
  ssh(command: string, timeoutMs?: number): Promise<BoxRun>;
  /** The console log of the boots so far. */
  consoleLog(): Promise<string>;
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** The box's init: the child of the nspawn process. */
function leaderOf(nspawnPid: number): number | undefined {
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (Number.isInteger(pid) && ppidOf(pid) === nspawnPid) return pid;
  }
  return undefined;
}

async function waitForPort(
  address: string,
  port: number,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const conn = await Deno.connect({ hostname: address, port });
      const buffer = new Uint8Array(64);
      // sshd greets first: a banner means it is really up.
      const read = await Promise.race([
        conn.read(buffer),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000)),
      ]);
      conn.close();
      if (read && new TextDecoder().decode(buffer).startsWith("SSH-")) return true;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function waitForPortClosed(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: address, port })).close();
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Boots tried before giving up on a box that exits at once. */
const BOOT_ATTEMPTS = 3;

async function mustRun(cmd: string, args: string[]): Promise<void> {
  await mustExec(cmd, args, { timeoutMs: BOX_COMMAND_TIMEOUT_MS, group: true });
}

/**
 * Copies the rootfs into a fresh box with the user, its SSH key, sshd on a
 * loopback address and the given read-only binds. Dispose powers it off and
 * removes the copy.
 */
export async function createBox(rootfs: string, binds: Binds): Promise<Box> {
  const dir = await Deno.makeTempDir({ dir: `${rootfs}/..`, prefix: ".box-" });
  const root = `${dir}/root`;
  const address = `127.0.0.${2 + (Deno.pid % 250)}`;
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  let nspawn: Deno.ChildProcess | undefined;
  let exited: Promise<Deno.CommandStatus> | undefined;
  const bootOnce = async (): Promise<void> => {
    const args = ["-D", root, "--boot", "--register=no", "--keep-unit", "--console=read-only"];
    for (const [host, inside] of Object.entries(binds)) args.push(`--bind-ro=${host}:${inside}`);
    nspawn = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'log=$1; shift; exec "$@" >>"$log" 2>&1',
        "boot",
        `${dir}/console.log`,
        NSPAWN,
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let gone = false;
    exited = nspawn.status.finally(() => gone = true);
    // Stop waiting for sshd as soon as nspawn itself exits (the retry in boot() decides).
    if (!(await waitForPort(address, port, BOOT_TIMEOUT_MS, () => gone)) && !gone) {
      throw new Error(
        `The box did not boot within ${BOOT_TIMEOUT_MS} ms:\n${await box.consoleLog()}`,
      );
    }
  };
  const box: Box = {
    root,
    address,
    port,
    async boot() {
      // A box just powered off may still hold its directory for a moment
      // (nspawn then exits at once): boot again, a bounded number of times.
      for (let attempt = 1;; attempt++) {
        await bootOnce();
        if (nspawn && leaderOf(nspawn.pid) !== undefined) return;
        if (attempt >= BOOT_ATTEMPTS) {
          throw new Error(`The box exited right after booting:\n${await box.consoleLog()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    },
    async powerCut() {
      if (!nspawn || !exited) return;
      const leader = leaderOf(nspawn.pid);
      if (leader !== undefined) {
        try {
          Deno.kill(leader, "SIGKILL");
        } catch {
          // gone
        }
      }
      try {
        nspawn.kill("SIGKILL");
      } catch {
        // gone
      }
      await exited;
      nspawn = undefined;
      // The kernel tears the box's processes down after its init dies: wait
      // until its sshd is gone, so the next boot is not greeted by the old one.
      await waitForPortClosed(address, port, HALT_TIMEOUT_MS);
    },
    async halted(timeoutMs = HALT_TIMEOUT_MS) {
      if (!exited) return true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
      ]);
      clearTimeout(timer);
      if (done) nspawn = undefined;
      return done;
    },
    asUser(command, timeoutMs = BOX_COMMAND_TIMEOUT_MS) {
      return inBox(nspawn, [
        "/usr/bin/setpriv",
        `--reuid=${BOX_UID}`,
        `--regid=${BOX_UID}`,
        "--init-groups",
        "/usr/bin/env",
        "-i",
        `HOME=/home/${BOX_USER}`,
        `USER=${BOX_USER}`,
        `LOGNAME=${BOX_USER}`,
        `PATH=${BARE_PATH}`,
        "/bin/sh",
        "-c",
        command,
      ], timeoutMs);
    },
    asRoot(command, timeoutMs = BOX_COMMAND_TIMEOUT_MS) {
      return inBox(nspawn, [
        "/usr/bin/env",
        "-i",
        `PATH=${BARE_PATH}:/usr/sbin:/sbin`,
        "/bin/sh",
        "-c",
        command,
      ], timeoutMs);
    },
    async ssh(command, timeoutMs = BOX_COMMAND_TIMEOUT_MS) {
      const run = await exec("/usr/bin/ssh", [
        ...SSH_CLIENT_OPTIONS,
        "-i",
        `${dir}/key`,
        "-o",
        "ConnectTimeout=10",
        "-p",
        String(port),
        `${BOX_USER}@${address}`,
        command,
      ], { timeoutMs, group: true });
      return { code: run.code, stdout: run.stdout, stderr: run.stderr };
    },
    consoleLog: () => Deno.readTextFile(`${dir}/console.log`).catch(() => ""),
    async [Symbol.asyncDispose]() {
      await box.powerCut();
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await mustRun("/bin/cp", ["-a", "--reflink=auto", rootfs, root]);
    await mustRun("/usr/sbin/chroot", [
      root,
      "/usr/sbin/useradd",
      "-m",
      "-u",
      String(BOX_UID),
      "-s",
      "/bin/sh",
      BOX_USER,
    ]);
    await mustRun("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/key`]);
    const ssh = `${root}/home/${BOX_USER}/.ssh`;
    await Deno.mkdir(ssh, { mode: 0o700 });
    await Deno.copyFile(`${dir}/key.pub`, `${ssh}/authorized_keys`);
    await mustRun("/bin/chown", ["-R", `${BOX_UID}:${BOX_UID}`, ssh]);
    await Deno.writeTextFile(
      `${root}/etc/ssh/sshd_config.d/codexd-test.conf`,
      `ListenAddress ${address}\nPort ${port}\nPasswordAuthentication no\n`,
    );
    await Deno.writeTextFile(`${root}/etc/hostname`, "codexd-box\n");
    return box;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function inBox(
  nspawn: Deno.ChildProcess | undefined,
  argv: string[],
  timeoutMs: number,
): Promise<BoxRun> {
  const leader = nspawn ? leaderOf(nspawn.pid) : undefined;
  if (leader === undefined) throw new Error("The box is not running");
  const run = await exec("/usr/bin/nsenter", ["-t", String(leader), "-a", ...argv], {
    timeoutMs,
    group: true,
  });
  return { code: run.code, stdout: run.stdout, stderr: run.stderr };
}
