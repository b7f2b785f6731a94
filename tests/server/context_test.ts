/**
 * The command context (`lib/server/context.ts`): the platform guard.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { createContext } from "../../lib/server/context.ts";
import { CodexdError } from "../../lib/errors.ts";

Deno.test("createContext() rejects non-Unix platforms with UNSUPPORTED_PLATFORM", () => {
  try {
    createContext({ os: "windows", codexHome: "/tmp/x" });
    assert(false, "should throw");
  } catch (error) {
    assert(error instanceof CodexdError);
    assertEquals(error.code, "UNSUPPORTED_PLATFORM");
  }
});
