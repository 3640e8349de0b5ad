// Drawing from discrete distributions with the library's seeded generator, for the miners that sample.
import type { Rng } from '../random.js';

/** An index drawn with probability ∝ weights[i] (non-negative, not all zero). */
export function sampleIndex(rng: Rng, weights: readonly number[] | Float64Array): number {
  let total = 0;
  for (const v of weights) total += v;
  let u = rng.uniform(0, total);
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i]! <= 0) continue;
    last = i;
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return last; // rounding left u ≥ 0 after the last positive weight
}
