// Sparse centres (PML's SparseCentersRegularizer, for SoftTriple-style losses with several centres
// per class): pulls the centres of one class together so that unneeded ones merge.
import { type Tensor, normalize } from '../../engine/index.js';
import { BaseRegularizer, type RegularizerOptions } from './base.js';
import { DivisorReducer } from '../reducers/index.js';
import { indexTensor } from '../utils/tuples.js';
import { positiveInteger } from '../utils/validate.js';

export interface SparseCentersOptions extends RegularizerOptions {
  numClasses: number;
  /** K ≥ 2: rows k·K … k·K + K - 1 are the centres of class k. */
  centersPerClass: number;
}

/**
 * Over the pairs i < j of centres of the same class, with s_ij their cosine:
 *   R = Σ √(2 - min(2 s_ij, 2)) / (2 · #pairs)
 * (the Euclidean distance between the normalised centres), divided by a DivisorReducer by default
 * as in PML. PML adds the smallest normal number of the dtype under the root, which is below one
 * ulp of 2 and so changes nothing; it is left out.
 */
export class SparseCentersRegularizer extends BaseRegularizer {
  readonly name = 'SparseCentersRegularizer';
  readonly numClasses: number;
  readonly centersPerClass: number;
  readonly #pairs: { i: number[]; j: number[] };
  constructor(o: SparseCentersOptions) {
    super(o, new DivisorReducer());
    positiveInteger(this.name, 'numClasses', o.numClasses);
    positiveInteger(this.name, 'centersPerClass', o.centersPerClass);
    if (o.centersPerClass < 2) throw new RangeError(`${this.name}: centersPerClass must be at least 2`);
    this.numClasses = o.numClasses;
    this.centersPerClass = o.centersPerClass;
    const i: number[] = [],
      j: number[] = [];
    const k = o.centersPerClass;
    for (let c = 0; c < o.numClasses; c++)
      for (let a = 0; a < k; a++)
        for (let b = a + 1; b < k; b++) {
          i.push(c * k + a);
          j.push(c * k + b);
        }
    this.#pairs = { i, j };
  }
  protected terms(w: Tensor): { losses: Tensor; divisor: number } {
    const total = this.numClasses * this.centersPerClass;
    if (w.shape[0] !== total)
      throw new RangeError(`${this.name}: expected ${total} centres (numClasses × centersPerClass), got ${w.shape[0]}`);
    const wn = normalize(w);
    const s = wn
      .index([indexTensor(this.#pairs.i, w.device)])
      .mul(wn.index([indexTensor(this.#pairs.j, w.device)]))
      .sum(1);
    const losses = s.mul(2).clampMax(2).rsub(2).sqrt();
    return { losses, divisor: 2 * this.#pairs.i.length };
  }
}
