/**
 * std-style assertion names over `node:assert/strict` (JSR's `@std/assert`
 * is unreachable here).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts `condition` is truthy. */
export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts deep strict inequality. */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** Asserts `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(text, pattern, message);
}

/** Asserts `fn` rejects with a value for which `check` holds. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  check: (error: unknown) => boolean,
  message?: string,
): Promise<void> {
  let threw = false;
  try {
    await fn();
  } catch (error) {
    threw = true;
    nodeAssert.ok(check(error), message ?? `unexpected error: ${error}`);
  }
  nodeAssert.ok(threw, message ?? "expected a rejection");
}
