/**
 * SIGINT/SIGTERM during a command that installs (`update`,
 * `bootstrap --install`): instead of dying with its work directories left
 * on disk, the process aborts the install through an `AbortSignal`; the
 * installer removes its work files and throws `INTERRUPTED`, which the CLI
 * prints as its one JSON error (exit 1). Used by `cli.ts` only, and only
 * for those commands, so the hot path registers no listener.
 *
 * A first signal that arrives after the new release is in place does not
 * stop the command: the bounded restart onto it completes, so an interrupt
 * never leaves a half-restarted app-server. A second signal is not handled:
 * it is raised again with the default action (the process dies at once).
 *
 * @module
 */

/** The signals an interruptible command handles. */
export const INTERRUPT_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

/**
 * Runs `command` with SIGINT/SIGTERM turned into an abort of the signal it
 * receives (the abort reason is the signal's name); the listeners are
 * removed when it settles.
 */
export async function interruptible<T>(command: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  };
  const listeners = INTERRUPT_SIGNALS.map((name) => {
    const listener = (): void => {
      if (!controller.signal.aborted) return controller.abort(name);
      // Second signal: the default action, as if nothing listened.
      remove();
      Deno.kill(Deno.pid, name);
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  try {
    return await command(controller.signal);
  } finally {
    remove();
  }
}
