/**
 * The assertions every test uses: `@std/assert`'s, re-exported under the
 * names the tests import, plus `assertRejects` in the form the tests call it
 * (a predicate on the error rather than an error class).
 *
 * @module
 */
import { assert, assertRejects as stdAssertRejects } from "@std/assert";

export { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";

/** Asserts `fn` rejects with a value for which `check` holds. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  check: (error: unknown) => boolean,
  message?: string,
): Promise<void> {
  const error = await stdAssertRejects(fn, message ?? "expected a rejection");
  assert(check(error), message ?? `unexpected error: ${error}`);
}
