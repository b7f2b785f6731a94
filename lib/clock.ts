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
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
