/**
 * Path helpers for tests: `@std/path`'s.
 *
 * @module
 */
export { dirname, fromFileUrl } from "@std/path";
