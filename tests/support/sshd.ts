/**
 * A throwaway OpenSSH server on 127.0.0.1 for the SSH end-to-end test: its
 * own host key, user key, authorized_keys and config in a temp dir, started
 * in the foreground as a child and killed on dispose. Commands run through the
 * real `ssh` client exactly as a desktop client would: non-interactive, no
 * TTY, batch mode.
 *
 * @module
 */

/** A running sshd and a client bound to it. */
export interface SshSession extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** The login user. */
  user: string;
  /** Runs `command` over ssh (no TTY, BatchMode). */
  run(command: string, options?: { timeoutMs?: number }): Promise<SshResult>;
}

/** What one ssh command produced. */
export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

const SSHD = "/usr/sbin/sshd";

async function exec(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}

/** Starts sshd, or explains why it cannot (missing binaries). */
export async function startSshd(): Promise<SshSession | { skipped: string }> {
  try {
    await Deno.stat(SSHD);
    await exec("sh", ["-c", "command -v ssh && command -v ssh-keygen"]);
  } catch {
    return {
      skipped:
        "openssh-server is not installed (tests/support/install_sshd.sh could not install it)",
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "codexd-sshd-" });
  const user = await exec("id", ["-un"]);
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 }).catch(() => {});
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_key`]);
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/user_key`]);
  await Deno.copyFile(`${dir}/user_key.pub`, `${dir}/authorized_keys`);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `ListenAddress 127.0.0.1`,
      `Port ${port}`,
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `PubkeyAuthentication yes`,
      `PermitRootLogin prohibit-password`,
      `UsePAM no`,
      `StrictModes no`,
      `PrintMotd no`,
      `LogLevel ERROR`,
      "",
    ].join("\n"),
  );
  const log = await Deno.open(`${dir}/sshd.log`, { write: true, create: true });
  const sshd = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logging = sshd.stderr.pipeTo(log.writable).catch(() => {});
  const dispose = async (): Promise<void> => {
    try {
      sshd.kill("SIGTERM");
    } catch {
      // already gone
    }
    await sshd.status;
    await logging;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  if (!(await waitForPort(port, 10_000))) {
    const why = await Deno.readTextFile(`${dir}/sshd.log`).catch(() => "");
    await dispose();
    return { skipped: `sshd did not listen on 127.0.0.1:${port}: ${why.trim()}` };
  }
  return {
    port,
    user,
    async run(command, options = {}): Promise<SshResult> {
      const child = new Deno.Command("ssh", {
        args: [
          "-T",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          "-i",
          `${dir}/user_key`,
          "-p",
          String(port),
          `${user}@127.0.0.1`,
          command,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
      try {
        const out = await child.output();
        return {
          code: out.code,
          stdout: new TextDecoder().decode(out.stdout),
          stderr: new TextDecoder().decode(out.stderr),
        };
      } finally {
        clearTimeout(timer);
      }
    },
    [Symbol.asyncDispose]: dispose,
  };
}
