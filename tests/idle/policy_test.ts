/**
 * Table tests of the pure turn-safety arithmetic: the maintenance window, the
 * deadline, the new settings, and the `--grace-seconds none` flag. What the
 * gate decides is tabled in `gate_test.ts` (beside this file).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { deadlineFor, inWindow, parseWindow } from "../../lib/idle/policy.ts";

/** A local-time date today at `hh:mm`. */
function at(hhmm: string): Date {
  const [h, m] = hhmm.split(":").map(Number);
  const date = new Date(2026, 10, 25, h, m, 0, 0);
  return date;
}

Deno.test("inWindow() opens at the start, closes at the end, and may wrap midnight", () => {
  const table: [string | undefined, string, boolean][] = [
    [undefined, "12:00", true],
    ["02:00-05:00", "01:59", false],
    ["02:00-05:00", "02:00", true],
    ["02:00-05:00", "04:59", true],
    ["02:00-05:00", "05:00", false],
    ["22:30-03:00", "23:00", true],
    ["22:30-03:00", "00:10", true],
    ["22:30-03:00", "02:59", true],
    ["22:30-03:00", "03:00", false],
    ["22:30-03:00", "12:00", false],
    ["22:30-03:00", "22:29", false],
  ];
  for (const [window, time, expected] of table) {
    assertEquals(inWindow(window, at(time)), expected, `${window} at ${time}`);
  }
});

Deno.test("parseWindow() accepts HH:MM-HH:MM and names what is wrong otherwise", () => {
  assertEquals(parseWindow("02:00-05:00"), { startMinute: 120, endMinute: 300 });
  assertEquals(parseWindow("23:15-01:00"), { startMinute: 1395, endMinute: 60 });
  for (const bad of ["2:00-5:00", "02:00", "24:00-01:00", "02:60-03:00", "03:00-03:00", ""]) {
    assertEquals(typeof parseWindow(bad), "string", bad);
  }
});

Deno.test("deadlineFor() is since plus the deadline minutes, or null when 0 means never", () => {
  const since = Date.parse("2026-11-25T10:00:00Z");
  assertEquals(deadlineFor(since, { restartDeadlineMinutes: 60 }), "2026-11-25T11:00:00.000Z");
  assertEquals(deadlineFor(since, { restartDeadlineMinutes: 0 }), null);
});
