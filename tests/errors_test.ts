/**
 * Errors (`lib/errors.ts`): paths in hints quoted for the shell.
 *
 * @module
 */
import { assertEquals } from "./support/assert.ts";
import { shellQuote } from "../lib/errors.ts";

Deno.test("shellQuote() leaves plain paths bare and single-quotes the rest", () => {
  const table: [string, string][] = [
    ["/usr/bin/codex", "/usr/bin/codex"],
    ["/home/a b/codex", "'/home/a b/codex'"],
    ["/tmp/it's", `'/tmp/it'\\''s'`],
    ["/x;rm -rf ~", "'/x;rm -rf ~'"],
    ["$(id)", "'$(id)'"],
  ];
  for (const [input, expected] of table) assertEquals(shellQuote(input), expected, input);
});
