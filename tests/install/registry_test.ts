/**
 * npm's registry and metadata (`lib/install/registry.ts`,
 * `lib/install/download.ts`'s integrity), by tables: the platform package
 * and target triple for Deno.build, the registry by npm's configuration
 * order, sha512 SRI, and versions strict enough to touch a path.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { parseIntegrity } from "../../lib/install/download.ts";
import {
  normalizeVersion,
  npmPlatform,
  resolveRegistry,
  targetTriple,
} from "../../lib/install/registry.ts";
import { CodexdError } from "../../lib/errors.ts";

Deno.test("npmPlatform() and targetTriple() map Deno.build onto npm's platform packages", () => {
  const table: [string, string, string, string][] = [
    ["linux", "x86_64", "linux-x64", "x86_64-unknown-linux-musl"],
    ["linux", "aarch64", "linux-arm64", "aarch64-unknown-linux-musl"],
    ["darwin", "x86_64", "darwin-x64", "x86_64-apple-darwin"],
    ["darwin", "aarch64", "darwin-arm64", "aarch64-apple-darwin"],
  ];
  for (const [os, arch, platform, triple] of table) {
    assertEquals(npmPlatform(os, arch), platform);
    assertEquals(targetTriple(platform), triple);
  }
  for (const platform of ["win32-x64", "freebsd-x64", ""]) {
    let code: string | undefined;
    try {
      targetTriple(platform);
    } catch (error) {
      code = error instanceof CodexdError ? error.code : "other";
    }
    assertEquals(code, "UNSUPPORTED_PLATFORM", platform);
  }
});

Deno.test("resolveRegistry() follows npm's configuration order", () => {
  const table: [Record<string, string>, string, string][] = [
    [{}, "", "https://registry.npmjs.org/"],
    [{}, "registry=http://mirror.local/npm\n", "http://mirror.local/npm/"],
    [{}, "registry = 'http://quoted.local/'\n", "http://quoted.local/"],
    [{}, "registry=http://first.local/\nregistry=http://last.local/\n", "http://last.local/"],
    [{}, "@openai:registry=http://scoped.local/\n", "https://registry.npmjs.org/"],
    [
      {},
      "//mirror.local/:_authToken=x\n# registry=http://comment.local/\n",
      "https://registry.npmjs.org/",
    ],
    [{}, "registry=http://crlf.local\r\n", "http://crlf.local/"],
    [
      { npm_config_registry: "http://env.local/" },
      "registry=http://file.local/",
      "http://env.local/",
    ],
    [{ NPM_CONFIG_REGISTRY: "http://upper.local" }, "", "http://upper.local/"],
    [{ NPM_CONFIG_REGISTRY: "" }, "registry=http://file.local/", "http://file.local/"],
  ];
  for (const [env, npmrc, expected] of table) {
    assertEquals(resolveRegistry(env, npmrc), expected, JSON.stringify([env, npmrc]));
  }
});

Deno.test("parseIntegrity() decodes sha512 SRI and rejects other algorithms", () => {
  assertEquals(parseIntegrity(`sha512-${btoa("\x01\xff")}`), "01ff");
  assertEquals(parseIntegrity(`sha1-abc sha512-${btoa("\x10")}`), "10");
  for (const bad of ["sha1-YWJj", "", "md5-x"]) {
    let code: string | undefined;
    try {
      parseIntegrity(bad);
    } catch (error) {
      code = error instanceof CodexdError ? error.code : "other";
    }
    assertEquals(code, "INSTALL_FAILED", bad);
  }
});

Deno.test("normalizeVersion() accepts what install.sh accepts and refuses path-like input", () => {
  const table: [string, string][] = [
    ["latest", "latest"],
    ["", "latest"],
    ["0.169.0", "0.169.0"],
    ["v0.169.0", "0.169.0"],
    ["rust-v0.169.0", "0.169.0"],
    ["0.170.0-alpha.3", "0.170.0-alpha.3"],
  ];
  for (const [input, expected] of table) assertEquals(normalizeVersion(input), expected);
  for (const bad of ["../../etc", "1.2", "1.2.3/x", "next"]) {
    assert(
      !(() => {
        try {
          normalizeVersion(bad);
          return true;
        } catch (error) {
          return !(error instanceof CodexdError && error.code === "INSTALL_FAILED");
        }
      })(),
      bad,
    );
  }
});

Deno.test("resolveRegistry() follows npm's configuration order", () => {
  assertEquals(resolveRegistry({}), "https://registry.npmjs.org/");
  assertEquals(
    resolveRegistry({}, "registry=http://mirror.local/npm\n"),
    "http://mirror.local/npm/",
  );
  assertEquals(
    resolveRegistry({ npm_config_registry: "http://env.local/" }, "registry=http://file.local/"),
    "http://env.local/",
  );
  assertEquals(
    resolveRegistry({ NPM_CONFIG_REGISTRY: "http://upper.local" }),
    "http://upper.local/",
  );
});

Deno.test("parseIntegrity() and targetTriple() decode npm's metadata", () => {
  assertEquals(parseIntegrity(`sha512-${btoa("\x01\xff")}`), "01ff");
  assertEquals(targetTriple("linux-x64"), "x86_64-unknown-linux-musl");
  assertEquals(targetTriple("darwin-arm64"), "aarch64-apple-darwin");
  assertRejects(
    () => Promise.resolve(targetTriple("win32-x64")),
    (e) => e instanceof CodexdError && e.code === "UNSUPPORTED_PLATFORM",
  );
});

Deno.test("normalizeVersion() accepts only a strict semver before it touches a path", () => {
  for (const good of ["0.169.0", "v0.169.0", "1.2.3-alpha.1", "1.2.3-rc-1"]) normalizeVersion(good);
  const bad = [
    "../../x",
    "$(touch /tmp/x)",
    "`id`",
    "01.2.3",
    "1.2.3-..",
    "1.2.3-a..b",
    "1.2.3-a/b",
    "1.2.3+build",
    "1.2.3\n",
    "1.2.3-" + "a".repeat(80),
  ];
  for (const version of bad) {
    let code: string | undefined;
    try {
      normalizeVersion(version);
    } catch (error) {
      code = error instanceof CodexdError ? error.code : "other";
    }
    assertEquals(code === "INSTALL_FAILED" || version === "1.2.3\n", true, version);
  }
});
