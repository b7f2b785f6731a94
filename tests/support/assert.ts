/**
 * The assertions every test uses: `@std/assert`'s, re-exported under the
 * names the tests import, plus `assertRejects` in the form the tests call it
 * (a predicate on the error rather than an error class; a synchronous throw
 * inside `fn` counts, as it always did here).
 *
 * @module
 */
import { assert } from "@std/assert";

export { assert, assertEquals, assertMatch, assertNotEquals, assertThrows } from "@std/assert";

/** Asserts `fn` rejects (or throws) with a value for which `check` holds. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  check: (error: unknown) => boolean,
  message?: string,
): Promise<void> {
  let threw = false;
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    threw = true;
    error = caught;
  }
  assert(threw, message ?? "expected a rejection");
  assert(check(error), message ?? `unexpected error: ${error}`);
}
