/**
 * Time as a seam: every wait and interval in codexd goes through a
 * {@linkcode Clock} so tests inject a fake one instead of sleeping.
 *
 * @module
 */

/** The two time operations codexd needs. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /**
   * Milliseconds since boot on a clock that clock steps do not move
   * (Linux: `/proc/uptime`, CLOCK_BOOTTIME, suspend included); `undefined`
   * where there is none. Deadlines that span processes measure with it.
   */
  uptimeMs?(): number | undefined;
}

/** Reads `/proc/uptime` (Linux); `undefined` elsewhere or when unreadable. */
export function procUptimeMs(): number | undefined {
  try {
    const seconds = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The real clock. `sleep` waits on `AbortSignal.timeout` rather than
 * `setTimeout`: the first `setTimeout` in a Deno process costs ~12 ms more
 * (measured: a 10 ms sleep takes ~25 ms vs ~13 ms), and stop/restart polls
 * are on the CLI's critical path.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) =>
    new Promise((resolve) => {
      AbortSignal.timeout(ms).addEventListener("abort", () => resolve(), { once: true });
    }),
  uptimeMs: procUptimeMs,
};
