/**
 * Runs a command with `jsr:` specifiers resolvable: as is when `JSR_URL` is
 * set or https://jsr.io answers, else with the on-disk registry served on
 * loopback (scripts/jsr_server.ts) and `JSR_URL` pointing at it for the
 * command's lifetime. `deno task test` and `deno task check` go through it.
 *
 * ```sh
 * deno run -A scripts/with_jsr.ts deno test -A tests/
 * ```
 *
 * Built-ins only (see scripts/jsr_server.ts).
 *
 * @module
 */
import { jsrReachable, locateJsrDir, serveJsr } from "./jsr_server.ts";

/** Runs `command` (`deno` meaning this deno) with `env` added; returns its exit code. */
async function run(command: string[], env: Record<string, string>): Promise<number> {
  const [program, ...args] = command;
  const child = new Deno.Command(program === "deno" ? Deno.execPath() : program, {
    args,
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The child gets the terminal's SIGINT itself; the wrapper only waits for it.
  const ignore = (): void => {};
  Deno.addSignalListener("SIGINT", ignore);
  try {
    // A child killed by a signal reports 128 + its number here.
    return (await child.status).code;
  } finally {
    Deno.removeSignalListener("SIGINT", ignore);
  }
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run -A scripts/with_jsr.ts <command> [args…]");
    Deno.exit(2);
  }
  if (Deno.env.get("JSR_URL") || await jsrReachable()) {
    Deno.exit(await run(Deno.args, {}));
  }
  const dir = locateJsrDir();
  if (dir === undefined) {
    console.error(
      "with_jsr: https://jsr.io is unreachable and no shared/jsr was found above the checkout; " +
        "set CODEXD_JSR_DIR or JSR_URL",
    );
    Deno.exit(1);
  }
  const server = serveJsr(dir);
  let code: number;
  try {
    code = await run(Deno.args, { JSR_URL: server.url });
  } finally {
    await server.close();
  }
  Deno.exit(code);
}
