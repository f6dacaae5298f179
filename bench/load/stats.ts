/**
 * The statistics of the benchmark harness, one home for all of them: {@linkcode median} of a
 * list of figures, and {@linkcode medianSample} to pick the middle one of several measurements
 * (kept whole, so its other fields stay consistent).
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([0.31, 0.29, 0.30])); // 0.3
 * ```
 *
 * @module
 */

/**
 * The median of `values` (the mean of the middle two for an even count); NaN when empty. The one
 * statistic every comparison module reports across its rounds.
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 3, 2])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
/**
 * The sample whose `rank` is the median of `samples`, kept whole (a measurement is not averaged,
 * so its fields stay from one run): the middle one for an odd count, the lower middle for an even
 * count; `undefined` when empty.
 *
 * @example
 * ```ts
 * import { medianSample } from "./stats.ts";
 *
 * const runs = [{ cpu: 3, rps: 10 }, { cpu: 1, rps: 30 }, { cpu: 2, rps: 20 }];
 * console.log(medianSample(runs, (run) => run.cpu)); // { cpu: 2, rps: 20 }
 * ```
 */
export function medianSample<T>(samples: readonly T[], rank: (sample: T) => number): T | undefined {
  const sorted = [...samples].sort((a, b) => rank(a) - rank(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
