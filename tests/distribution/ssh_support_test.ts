/**
 * The throwaway sshd of `tests/support/sshd.ts` on its own, and the facts the
 * one-liner relies on in a non-interactive SSH session: no TTY, which PATH
 * and HOME the remote command sees, whether `deno` resolves, and that a
 * background process with detached stdio outlives the session without making
 * `ssh` wait for it. Pid files go to a local temp dir (same machine).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { sshdMissing, startSshd } from "../support/sshd.ts";
import { needs } from "../support/host.ts";

/** How long the background `sleep` would live if nobody killed it. */
const SLEEP_S = 30;
/** A prompt return: well under the background process's lifetime. */
const PROMPT_MS = 10_000;
/** How long the background `sh` has to write its pid file. */
const PID_FILE_MS = 5_000;

/** The `/proc/PID/stat` state letter, or undefined when the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** The pid the background `sh` wrote (it may run after ssh returned), within a bound. */
async function readPidFile(path: string): Promise<number> {
  const deadline = Date.now() + PID_FILE_MS;
  for (;;) {
    try {
      const text = await Deno.readTextFile(path);
      if (text.endsWith("\n")) return Number(text);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`No pid in ${path} after ${PID_FILE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Kills `pid` only if it is still our `sleep`; a pid already gone is fine. */
function killSleep(pid: number): void {
  try {
    if (!Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith("sleep\0")) return;
    Deno.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

Deno.test({
  name: "startSshd() runs a command over a real non-interactive ssh session",
  ...needs(await sshdMissing()),
}, async (t) => {
  const started = await startSshd();
  if ("skipped" in started) throw new Error(started.skipped);
  await using session = started;
  const tmp = await Deno.makeTempDir({ prefix: "codexd-ssh-support-" });
  try {
    await t.step("the session has no TTY and finds /usr/bin/deno on its PATH", async () => {
      const out = await session.run("echo $PATH; tty || true; command -v deno || echo no-deno");
      assertEquals(out.code, 0, out.stderr);
      const [path, tty, deno] = out.stdout.trimEnd().split("\n");
      console.log(`non-interactive ssh: PATH=${path} | tty: ${tty} | deno: ${deno}`);
      assertEquals(tty, "not a tty");
      assert(path.split(":").includes("/usr/bin"), `PATH lacks /usr/bin: ${path}`);
      if (Deno.realPathSync(Deno.execPath()) === "/usr/bin/deno") {
        assertEquals(deno, "/usr/bin/deno");
      }
    });

    await t.step("sshd sets HOME, USER and a system PATH before shell start-up files", async () => {
      // The shell's initial environment is what sshd passed, before any
      // ~/.bashrc (Debian's bash sources it for ssh commands) extends PATH.
      const out = await session.run(`tr '\\0' '\\n' < /proc/$$/environ; echo "SHELL0=$0"`);
      assertEquals(out.code, 0, out.stderr);
      const env = Object.fromEntries(
        out.stdout.trimEnd().split("\n").map((line) => {
          const at = line.indexOf("=");
          return [line.slice(0, at), line.slice(at + 1)];
        }),
      );
      console.log(
        `sshd environment: PATH=${env.PATH} HOME=${env.HOME} USER=${env.USER} ` +
          `SHELL=${env.SHELL} ($0=${env.SHELL0}) keys=${Object.keys(env).sort().join(",")}`,
      );
      assertEquals(env.USER, session.user);
      assertMatch(env.HOME ?? "", /^\//);
      assert((env.PATH ?? "").split(":").includes("/usr/bin"), `sshd PATH: ${env.PATH}`);
    });

    await t.step("the client's environment is not forwarded to the session", async () => {
      const out = await session.run('echo "[${CODEXD_PROBE-unset}]"', {
        env: { CODEXD_PROBE: "set", LANG: "C.UTF-8" },
      });
      assertEquals(out.code, 0, out.stderr);
      assertEquals(out.stdout, "[unset]\n");
    });

    for (const detach of ["", "setsid "]) {
      await t.step(
        `a ${detach}background process with detached stdio outlives the session and ssh returns promptly`,
        async () => {
          const pidFile = `${tmp}/${detach ? "setsid" : "plain"}.pid`;
          const began = Date.now();
          const out = await session.run(
            `${detach}sh -c 'echo $$ > "$1"; exec sleep ${SLEEP_S}' sh '${pidFile}'` +
              " </dev/null >/dev/null 2>&1 &",
            { timeoutMs: 20_000 },
          );
          const elapsed = Date.now() - began;
          assertEquals(out.code, 0, out.stderr);
          const pid = await readPidFile(pidFile);
          try {
            console.log(
              `${detach || "plain "}& with detached stdio: ssh returned in ${elapsed} ms`,
            );
            assert(elapsed < PROMPT_MS, `ssh waited ${elapsed} ms for the background process`);
            const state = procState(pid);
            assert(state !== undefined && state !== "Z", `pid ${pid} died with the session`);
          } finally {
            killSleep(pid);
          }
        },
      );
    }

    await t.step("a background process holding the session's stdout makes ssh wait", async () => {
      const pidFile = `${tmp}/inherited.pid`;
      const began = Date.now();
      const out = await session.run(
        `sh -c 'echo $$ > "$1"; exec sleep 2' sh '${pidFile}' &`,
        { timeoutMs: 20_000 },
      );
      const elapsed = Date.now() - began;
      killSleep(await readPidFile(pidFile));
      console.log(`& with inherited stdout: ssh returned in ${elapsed} ms (sleep 2)`);
      assertEquals(out.code, 0, out.stderr);
      assert(elapsed >= 1_500, `ssh returned after ${elapsed} ms, before the sleep ended`);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
