/**
 * Versions (lib/versions.ts, on @std/semver): the strict `X.Y.Z[-prerelease]`
 * rule, stable releases, equality and release directory names, by tables.
 *
 * @module
 */
import { assertEquals } from "./support/assert.ts";
import {
  isStableVersion,
  isStrictVersion,
  parseReleaseName,
  sameVersion,
} from "../lib/versions.ts";

Deno.test("isStrictVersion() accepts X.Y.Z[-prerelease] and nothing looser", () => {
  const table: [string, boolean, boolean][] = [
    // text, strict, stable
    ["0.169.0", true, true],
    ["1.2.3-alpha.1", true, false],
    ["1.2.3-rc-1", true, false],
    ["v1.2.3", false, false],
    [" 1.2.3", false, false],
    ["1.2.3+build", false, false],
    ["01.2.3", false, false],
    ["1.2", false, false],
    ["1.2.3-", false, false],
    ["1.2.3/../x", false, false],
    [`1.2.3-${"a".repeat(60)}`, false, false],
    ["latest", false, false],
  ];
  for (const [text, strict, stable] of table) {
    assertEquals(isStrictVersion(text), strict, text);
    assertEquals(isStableVersion(text), stable, text);
  }
});

Deno.test("sameVersion() is semver equality, text equality for anything else", () => {
  const table: [string | null | undefined, string | null | undefined, boolean][] = [
    ["0.169.0", "0.169.0", true],
    ["0.169.0", "0.169.1", false],
    ["1.0.0-rc.1", "1.0.0", false],
    [undefined, "1.0.0", false],
    [null, null, true],
    ["dev", "dev", true],
  ];
  for (const [a, b, same] of table) assertEquals(sameVersion(a, b), same, `${a} ${b}`);
});

Deno.test("parseReleaseName() splits <version>-<target> and rejects the rest", () => {
  assertEquals(parseReleaseName("0.169.0-x86_64-unknown-linux-musl"), {
    version: "0.169.0",
    target: "x86_64-unknown-linux-musl",
  });
  assertEquals(parseReleaseName("1.0.0-rc.2-aarch64-apple-darwin"), {
    version: "1.0.0-rc.2",
    target: "aarch64-apple-darwin",
  });
  for (const name of ["0.169.0", "x-x86_64-unknown-linux-musl", "0.1.0-riscv64-linux", ".tmp"]) {
    assertEquals(parseReleaseName(name), undefined, name);
  }
});
