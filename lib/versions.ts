/**
 * Versions of codex as codexd accepts them: strict `X.Y.Z[-prerelease]`
 * (no build metadata, no `v`, bounded length, since a version becomes part of
 * a directory name), parsed and compared with `@std/semver`; and release
 * directory names `<version>-<target>`. Pure.
 *
 * @module
 */
import { canParse } from "@std/semver/can-parse";
import { equals } from "@std/semver/equals";
import { parse } from "@std/semver/parse";

/** The longest version string accepted. */
export const MAX_VERSION_LENGTH = 64;

/** Whether `text` is a strict `X.Y.Z[-prerelease]` (semver without build metadata or a `v`). */
export function isStrictVersion(text: string): boolean {
  // @std/semver also accepts a leading `v`, surrounding blanks and `+build`: codexd does not.
  return text.length <= MAX_VERSION_LENGTH && /^[0-9][0-9A-Za-z.-]*$/.test(text) &&
    canParse(text);
}

/** Whether `text` is a strict version without a prerelease (a stable release). */
export function isStableVersion(text: string): boolean {
  return isStrictVersion(text) && parse(text).prerelease?.length === 0;
}

/** Whether two versions are the same release (semver equality; unparsable ones compare as text). */
export function sameVersion(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  return isStrictVersion(a) && isStrictVersion(b) ? equals(parse(a), parse(b)) : a === b;
}

/** Targets codex is released for, as they end a release directory name. */
export const RELEASE_TARGETS: readonly string[] = [
  "x86_64-unknown-linux-musl",
  "aarch64-unknown-linux-musl",
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

/** Splits a release directory name `<version>-<target>`; `undefined` for anything else. */
export function parseReleaseName(name: string): { version: string; target: string } | undefined {
  for (const target of RELEASE_TARGETS) {
    if (!name.endsWith(`-${target}`)) continue;
    const version = name.slice(0, -target.length - 1);
    return isStrictVersion(version) ? { version, target } : undefined;
  }
  return undefined;
}
