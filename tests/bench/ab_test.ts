/**
 * The benchmarks' pure parts: how the A/B orders runs, how runs are summed up.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { rotation } from "../../bench/ab.ts";
import { summarize } from "../../bench/stats.ts";

Deno.test("rotation() puts every variant in every slot once per round", () => {
  const items = ["empty", "a", "b"];
  const rounds = [0, 1, 2].map((i) => rotation(items, i));
  assertEquals(rounds, [["empty", "a", "b"], ["a", "b", "empty"], ["b", "empty", "a"]]);
  for (const slot of [0, 1, 2]) {
    assertEquals(rounds.map((round) => round[slot]).sort(), ["a", "b", "empty"]);
  }
  assertEquals(rotation(items, 3), items);
});

Deno.test("summarize() gives the median and the mean of the middle half", () => {
  const table: [number[], { median: number; iqm: number }][] = [
    [[1, 2, 3, 4], { median: 2.5, iqm: 2.5 }],
    [[10, 1, 2, 3, 100], { median: 3, iqm: (2 + 3 + 10) / 3 }],
    [[5, 5, 5, 5, 5, 5, 5, 90], { median: 5, iqm: 5 }],
  ];
  for (const [values, expected] of table) assertEquals(summarize(values), expected, `${values}`);
});
