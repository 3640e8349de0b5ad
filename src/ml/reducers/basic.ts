// The reducers that read only the values: mean, sum, the mean of the terms inside a threshold band
// (average-non-zero is its low = 0 case), and none.
import { type Tensor, where } from '../../engine/index.js';
import { type Reducer, type Reduction, zeroLoss } from './base.js';
import { finiteNumber } from '../utils/validate.js';

/** Σℓ / N (0, still connected to the graph, when there is no term). */
export class MeanReducer implements Reducer {
  readonly name: string = 'mean';
  reduce(r: Reduction): Tensor {
    return r.losses.numel() === 0 ? zeroLoss(r.embeddings) : r.losses.mean();
  }
}

/** Σℓ. */
export class SumReducer implements Reducer {
  readonly name: string = 'sum';
  reduce(r: Reduction): Tensor {
    return r.losses.numel() === 0 ? zeroLoss(r.embeddings) : r.losses.sum();
  }
}

/** The terms themselves, unreduced (PML's DoNothingReducer). */
export class DoNothingReducer implements Reducer {
  readonly name: string = 'none';
  reduce(r: Reduction): Tensor {
    return r.losses;
  }
}

export interface ThresholdReducerOptions {
  /** Keep terms > low. */
  low?: number;
  /** Keep terms < high. */
  high?: number;
}

/**
 * The mean of the terms with low < ℓ < high (either bound may be absent, not both); 0 when none
 * is kept. The count is a constant of the step, as in PML's ThresholdReducer, so the terms that
 * left the band neither contribute nor dilute.
 */
export class ThresholdReducer implements Reducer {
  readonly name: string = 'threshold';
  readonly low: number | undefined;
  readonly high: number | undefined;
  constructor(o: ThresholdReducerOptions) {
    this.low = o.low;
    this.high = o.high;
    if (this.low === undefined && this.high === undefined)
      throw new RangeError('ThresholdReducer: give low, high or both');
    if (this.low !== undefined) finiteNumber('ThresholdReducer', 'low', this.low);
    if (this.high !== undefined) finiteNumber('ThresholdReducer', 'high', this.high);
  }
  reduce(r: Reduction): Tensor {
    const l = r.losses;
    if (l.numel() === 0) return zeroLoss(r.embeddings);
    let keep: Tensor | null = this.low === undefined ? null : l.gt(this.low);
    if (this.high !== undefined) {
      const below = l.lt(this.high);
      keep = keep === null ? below : keep.logicalAnd(below);
    }
    const kept = where(keep!, l, 0);
    const count = keep!.sum(undefined, false, l.dtype).clampMin(1);
    return kept.sum().div(count);
  }
}

/** Σ_{ℓ>0} ℓ / #{ℓ > 0}: the mean over the terms that still violate their margin. */
export class AvgNonZeroReducer extends ThresholdReducer {
  override readonly name: string = 'avgNonZero';
  constructor() {
    super({ low: 0 });
  }
}
