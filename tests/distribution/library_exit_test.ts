/**
 * The library lets its caller's script exit as soon as the last awaited call
 * returns: no timer, socket or child of codexd keeps the event loop alive.
 * A bounded `codex --version` run (the binary facts, read on a cold cache)
 * once left its time-out armed, so a script lived on for the whole bound.
 *
 * No timing assertion: the bound is made huge (2 min), and the script must
 * exit long before it (within a generous minute) once it printed its last line.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { fakeHome, MOD_TS, REPO_ROOT } from "../support/helpers.ts";

/** Far longer than any honest exit, far shorter than the armed bound. */
const EXIT_WITHIN_MS = 60_000;

Deno.test("a script calling start() and stop() on a cold binary cache exits once they return", async () => {
  await using h = await fakeHome();
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { start, stop } from ${JSON.stringify(MOD_TS)};
const home = Deno.args[0];
const started = await start({ codexHome: home });
const stopped = await stop({ codexHome: home });
console.log(JSON.stringify({ started: started.status, stopped: stopped.status }));
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    // --config: a script outside the checkout resolves the checkout's bare imports (@std/…) by it.
    args: ["run", "-A", "--config", `${REPO_ROOT}/deno.json`, script, h.home],
    // A helper command's bound far beyond EXIT_WITHIN_MS: a timer left armed shows.
    env: { CODEXD_COMMAND_TIMEOUT_MS: "120000", CODEX_HOME: h.home },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assertEquals(JSON.parse(text), { started: "started", stopped: "stopped" });
    // The last line is out: the process must end now, not when a bound expires.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), EXIT_WITHIN_MS)),
    ]);
    clearTimeout(timer);
    assert(exited, `the script was still alive ${EXIT_WITHIN_MS} ms after its last line`);
    await reader.cancel();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    await Deno.remove(script);
  }
});
