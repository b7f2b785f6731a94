/**
 * A throwaway OpenSSH server on 127.0.0.1 (or on several loopback addresses,
 * one port) for the SSH end-to-end tests: its own host key, user key,
 * authorized_keys and config in a temp dir (`codexd-sshd-*`, also holding
 * `sshd.log` and `sshd.pid`; the dir and authorized_keys are world-readable
 * so other local users can log in with the same key), started in the
 * foreground as a child and killed on dispose. Commands run through the real
 * `ssh` client exactly as a desktop client would: non-interactive, no TTY,
 * batch mode. `/run/sshd` (sshd's privilege-separation dir) is created when
 * missing. Binaries missing = `{ skipped }`; installed but failing = an error.
 *
 * @module
 */
import { exec, mustExec } from "./exec.ts";

/** A running sshd and a client bound to it. */
export interface SshSession extends AsyncDisposable {
  /** Its port on 127.0.0.1 (on every listen address). */
  port: number;
  /** The addresses it listens on. */
  listenAddresses: string[];
  /** The private key every local user can log in with (root-only readable). */
  identityFile: string;
  /** The login user (the current user). */
  user: string;
  /** Runs `command` over ssh (no TTY, BatchMode); a non-zero exit is returned, not thrown. */
  run(command: string, options?: SshRunOptions): Promise<SshResult>;
}

/** Options of {@linkcode SshSession.run}. */
export interface SshRunOptions {
  /**
   * Extra environment of the local `ssh` client. It is not forwarded: the
   * server accepts no client variables (no `AcceptEnv`).
   */
  env?: Record<string, string>;
  /** Kill the client after this long. @default {SSH_RUN_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** What one ssh command produced. */
export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where Debian's openssh-server puts the daemon. */
export const SSHD_PATH = "/usr/sbin/sshd";
/** How long sshd has to accept a TCP connection. */
export const SSHD_READY_MS = 10_000;
/** How long sshd has to exit after SIGTERM before SIGKILL. */
export const SSHD_STOP_MS = 5_000;
/** Default bound of one ssh command. */
export const SSH_RUN_TIMEOUT_MS = 120_000;

/**
 * ssh client options of every test connection (the sshd sessions here, the
 * nspawn boxes, the Ansible fleet's inventory): neither ~/.ssh/config nor
 * /etc/ssh/ssh_config (no SendEnv), no prompt, no host key kept, only the
 * identity given with `-i`.
 */
export const SSH_CLIENT_OPTIONS = [
  "-F",
  "/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "IdentitiesOnly=yes",
];

const PRIVSEP_DIR = "/run/sshd";

/** Options of {@linkcode startSshd}. */
export interface StartSshdOptions {
  /** Loopback addresses to listen on (one port for all). @default {["127.0.0.1"]} */
  listenAddresses?: string[];
}

/** Why sshd cannot run here (missing binaries), or `undefined`: for a test's `ignore:`. */
export async function sshdMissing(): Promise<string | undefined> {
  const sshd = await _executable(SSHD_PATH);
  const ssh = await _which("ssh");
  const keygen = await _which("ssh-keygen");
  if (sshd && ssh && keygen) return undefined;
  const missing = [[sshd, SSHD_PATH], [ssh, "ssh"], [keygen, "ssh-keygen"]]
    .filter(([found]) => !found).map(([, name]) => name).join(", ");
  return `OpenSSH is not installed (missing ${missing}); ` +
    "run tests/support/install_sshd.sh (Debian openssh-server, openssh-client)";
}

/** Starts sshd, or explains why it cannot (missing binaries). */
export async function startSshd(
  options: StartSshdOptions = {},
): Promise<SshSession | { skipped: string }> {
  const listenAddresses = options.listenAddresses ?? ["127.0.0.1"];
  const missing = await sshdMissing();
  if (missing !== undefined) return { skipped: missing };
  const sshd = SSHD_PATH;
  const ssh = (await _which("ssh")) as string;
  const keygen = (await _which("ssh-keygen")) as string;
  const user = await _mustExec("/usr/bin/id", ["-un"]);
  await Deno.mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: "codexd-sshd-" });
  try {
    await _mustExec(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_key`]);
    await _mustExec(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/user_key`]);
    await Deno.copyFile(`${dir}/user_key.pub`, `${dir}/authorized_keys`);
    // sshd reads authorized_keys as the logging-in user.
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(`${dir}/authorized_keys`, 0o644);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  // Racy by nature (another process may take the port between close and
  // sshd's bind); sshd then exits, and the readiness wait reports its log.
  const port = _freePort(listenAddresses);
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      ...listenAddresses.map((address) => `ListenAddress ${address}`),
      `Port ${port}`,
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `PubkeyAuthentication yes`,
      // Tests run as root here; key-only login keeps that safe on loopback.
      `PermitRootLogin prohibit-password`,
      `UsePAM no`,
      `StrictModes no`,
      `PrintMotd no`,
      // bash sources ~/.bashrc for a command run by sshd (SSH_CLIENT set, SHLVL < 2):
      // a host-specific rc file (pyenv, nvm, …) must not slow or break the tests.
      `SetEnv SHLVL=1`,
      // No AcceptEnv: the session gets only what sshd and the login shell set.
      "",
    ].join("\n"),
  );
  const log = await Deno.open(`${dir}/sshd.log`, { write: true, create: true });
  const child = new Deno.Command(sshd, {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logging = child.stderr.pipeTo(log.writable).catch(() => {});
  let exited = false;
  const status = child.status.finally(() => exited = true);

  const dispose = async (): Promise<void> => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // exited meanwhile
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
        resolve();
      }, SSHD_STOP_MS);
    });
    await Promise.race([status, forced]);
    clearTimeout(timer);
    await status;
    await logging;
    await Deno.remove(dir, { recursive: true });
  };

  if (!(await _waitForPort(listenAddresses, port, () => exited))) {
    const why = await Deno.readTextFile(`${dir}/sshd.log`).catch(() => "");
    await dispose();
    throw new Error(
      `Cannot start ${sshd} on ${listenAddresses.join(",")}:${port}: ` +
        `${exited ? "it exited" : "not listening"} ` +
        `after ${SSHD_READY_MS} ms: ${why.trim()}`,
    );
  }
  return {
    port,
    listenAddresses,
    identityFile: `${dir}/user_key`,
    user,
    run: (command, options = {}) =>
      _runSsh(ssh, [dir, port, user, listenAddresses], command, options),
    [Symbol.asyncDispose]: dispose,
  };
}

async function _runSsh(
  ssh: string,
  [dir, port, user, listenAddresses]: [string, number, string, string[]],
  command: string,
  { env, timeoutMs = SSH_RUN_TIMEOUT_MS }: SshRunOptions,
): Promise<SshResult> {
  const run = await exec(ssh, [
    "-T",
    ...SSH_CLIENT_OPTIONS,
    "-i",
    `${dir}/user_key`,
    "-p",
    String(port),
    `${user}@${listenAddresses[0]}`,
    command,
  ], { env, timeoutMs });
  return { code: run.code, stdout: run.stdout, stderr: run.stderr };
}

/** Runs a setup command; its trimmed stdout, or a throw naming it. */
async function _mustExec(cmd: string, args: string[]): Promise<string> {
  return (await mustExec(cmd, args, { timeoutMs: SSHD_READY_MS })).trim();
}

async function _executable(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && (info.mode ?? 0) & 0o111 ? path : undefined;
  } catch {
    return undefined;
  }
}

/** `name` on PATH, falling back to the Debian locations. */
async function _which(name: string): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean), "/usr/bin", "/bin"];
  for (const dir of dirs) {
    const found = await _executable(`${dir}/${name}`);
    if (found) return found;
  }
  return undefined;
}

/** A port free on every address (bound on the first, then tried on the others). */
function _freePort(addresses: string[]): number {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = Deno.listen({ hostname: addresses[0], port: 0 });
    const { port } = first.addr;
    first.close();
    try {
      for (const hostname of addresses.slice(1)) Deno.listen({ hostname, port }).close();
      return port;
    } catch {
      // taken on another address: try another port
    }
  }
  throw new Error(`No port free on all of ${addresses.join(", ")}`);
}

/** True once every address accepts a connection; false if sshd exited or the bound passed. */
async function _waitForPort(
  addresses: string[],
  port: number,
  exited: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + SSHD_READY_MS;
  while (Date.now() < deadline && !exited()) {
    try {
      for (const hostname of addresses) (await Deno.connect({ hostname, port })).close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}
