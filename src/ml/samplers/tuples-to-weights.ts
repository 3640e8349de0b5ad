// Sampling the samples that mining finds informative (pytorch-metric-learning's
// TuplesToWeightsSampler): embed the data set (or a subset), mine it, and draw each epoch's samples
// with probability proportional to how often each took part in a mined pair or triplet.
import { type BatchSampler, epochRng } from './base.js';
import type { MinedTuples } from '../utils/tuples.js';
import { positiveInteger } from '../utils/validate.js';

/**
 * PML's convert_to_weights: each row's count of appearances in the tuples (every position of every
 * tuple) divided by the largest count; all ones when there are no tuples.
 */
export function tupleWeights(t: MinedTuples | undefined, n: number): Float64Array {
  const w = new Float64Array(n);
  const lists = t === undefined ? [] : t.kind === 'pairs' ? [t.a1, t.p, t.a2, t.n] : [t.a, t.p, t.n];
  if (lists.every((l) => l.length === 0)) return w.fill(1);
  for (const l of lists) for (const i of l) w[i]!++;
  let max = 0;
  for (const v of w) max = Math.max(max, v);
  for (let i = 0; i < n; i++) w[i]! /= max;
  return w;
}

export interface TuplesToWeightsOptions {
  /** Data set size. */
  size: number;
  batchSize: number;
  /** Samples drawn per epoch (default: size, or the subset size the weights were computed on). */
  length?: number;
  seed?: number;
}

/**
 * Draws batches with replacement, sample i with probability ∝ weights[i]. Weights start uniform;
 * setWeights(rows, tuples) sets them from tuples mined on the embeddings of `rows` (dataset indices
 * of the embedded subset, whose tuple indices refer to positions in `rows`); the other samples get
 * weight 0, as in PML.
 */
export class TuplesToWeightsSampler implements BatchSampler {
  readonly size: number;
  readonly batchSize: number;
  readonly seed: number;
  #length: number;
  #weights: Float64Array;
  #cumulative: Float64Array;
  constructor(o: TuplesToWeightsOptions) {
    positiveInteger('TuplesToWeightsSampler', 'size', o.size);
    positiveInteger('TuplesToWeightsSampler', 'batchSize', o.batchSize);
    this.size = o.size;
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    this.#length = o.length ?? o.size;
    this.#weights = new Float64Array(o.size).fill(1);
    this.#cumulative = cumulative(this.#weights);
  }
  get weights(): Float64Array {
    return this.#weights;
  }
  get batchesPerEpoch(): number {
    return Math.floor(this.#length / this.batchSize);
  }
  /** Weights from tuples mined on the embedded rows (all rows of the data set when `rows` is the identity). */
  setWeights(rows: readonly number[], tuples: MinedTuples, length?: number): void {
    const local = tupleWeights(tuples, rows.length);
    const w = new Float64Array(this.size);
    rows.forEach((r, k) => {
      if (!Number.isInteger(r) || r < 0 || r >= this.size)
        throw new RangeError(`TuplesToWeightsSampler: row ${r} is outside the data set (0..${this.size - 1})`);
      w[r] = local[k]!;
    });
    if (!w.some((v) => v > 0)) throw new RangeError('TuplesToWeightsSampler: every weight is 0');
    this.#weights = w;
    this.#cumulative = cumulative(w);
    this.#length = length ?? rows.length;
  }
  epoch(epoch: number): number[][] {
    const rng = epochRng(this.seed, epoch);
    const c = this.#cumulative,
      total = c[c.length - 1]!;
    const draw = (): number => {
      const u = rng.uniform(0, total);
      let lo = 0,
        hi = c.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (c[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    };
    return Array.from({ length: this.batchesPerEpoch }, () => Array.from({ length: this.batchSize }, draw));
  }
}

function cumulative(w: Float64Array): Float64Array {
  const c = new Float64Array(w.length);
  let s = 0;
  w.forEach((v, i) => (c[i] = s += v));
  return c;
}
