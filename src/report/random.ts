// The report's randomness (subsamples, t-SNE initialisation, PCA test directions, example queries):
// streams of the library's one generator (src/ml/random.ts), so that the report's pictures depend
// on nothing but their seed.
import { type Rng, STREAM, rngFor } from '../ml/random.js';

/** The report's streams of one seed: one per random choice, so that no two choices share draws. */
export const REPORT_STREAM = { tsneSubsample: 1, tsneInit: 2, pcaDirections: 3, miSubsample: 4, examples: 5 } as const;

/** The generator for `streams` (e.g. a REPORT_STREAM entry) of the report seed `seed`. */
export function reportRng(seed: number, ...streams: number[]): Rng {
  return rngFor(seed, STREAM.report, ...streams);
}

/** k distinct indices of 0..n-1 drawn without replacement (all of them, in order, when k >= n), sorted. */
export function sampleIndices(n: number, k: number, seed: number, ...streams: number[]): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rng = reportRng(seed, ...streams);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = rng.int(i, n);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm.slice(0, k).sort();
}
