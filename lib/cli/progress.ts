/**
 * Progress of long work (`update`, `bootstrap --install`) on stderr, never
 * on stdout (which stays one JSON object).
 *
 * @module
 */

/** A download progress reporter, only when stderr is a terminal. */
export function downloadProgress(): ((received: number, total?: number) => void) | undefined {
  if (!Deno.stderr.isTerminal()) return undefined;
  let last = 0;
  return (received, total) => {
    const now = Date.now();
    if (now - last < 200 && received !== total) return;
    last = now;
    const mib = (received / 1048576).toFixed(1);
    const of = total ? ` / ${(total / 1048576).toFixed(1)} MiB` : " MiB";
    Deno.stderr.writeSync(new TextEncoder().encode(`\rdownloading ${mib}${of}`));
    if (received === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  };
}
