/**
 * Which layout a home uses (`lib/state/home_layout.ts`): the reference's
 * package layout only where its package is used or alone, by a table.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { decideFlavour, type HomeFacts } from "../../lib/state/home_layout.ts";

Deno.test("decideFlavour() picks the reference's package layout only where the package is used or alone", () => {
  const table: [HomeFacts, string][] = [
    [{ standaloneBinary: true, packageBinary: false, packageMarkers: false }, "standalone"],
    [{ standaloneBinary: true, packageBinary: false, packageMarkers: true }, "standalone"],
    [{ standaloneBinary: true, packageBinary: true, packageMarkers: false }, "standalone"],
    [{ standaloneBinary: true, packageBinary: true, packageMarkers: true }, "package"],
    [{ standaloneBinary: false, packageBinary: true, packageMarkers: false }, "package"],
    [{ standaloneBinary: false, packageBinary: true, packageMarkers: true }, "package"],
    [{ standaloneBinary: false, packageBinary: false, packageMarkers: true }, "standalone"],
  ];
  for (const [facts, expected] of table) {
    assertEquals(decideFlavour(facts), expected, JSON.stringify(facts));
  }
});
