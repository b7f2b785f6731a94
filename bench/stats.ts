/**
 * How the benchmarks sum up their runs: the median, and the interquartile
 * mean (the mean of the middle half, steadier than the median on this
 * machine's drifting speed).
 *
 * @module
 */

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median and the interquartile mean of `values`. */
export function summarize(values: number[]): { median: number; iqm: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const quarter = Math.floor(sorted.length / 4);
  const middle = sorted.slice(quarter, sorted.length - quarter);
  return { median: median(sorted), iqm: middle.reduce((sum, v) => sum + v, 0) / middle.length };
}
