// Class weights on a loss's terms (PML's ClassWeightedReducer), e.g. against class imbalance.
import { type Tensor, tensor } from '../../engine/index.js';
import { type Reducer, type Reduction, zeroLoss } from './base.js';

/**
 * mean_k(w[y(anchor_k)] · ℓ_k): each term is weighted by the class of its anchor (its row for
 * per-sample terms) and the weighted terms are averaged over all terms, as PML does (a mean, not a
 * weighted mean: the weights also scale the loss).
 */
export class ClassWeightedReducer implements Reducer {
  readonly name: string = 'classWeighted';
  readonly weights: readonly number[];
  constructor(weights: readonly number[] | Float64Array | Float32Array) {
    this.weights = Array.from(weights);
    if (this.weights.length === 0 || this.weights.some((w) => !Number.isFinite(w)))
      throw new RangeError('ClassWeightedReducer: weights must be a non-empty list of finite numbers (one per class)');
  }
  reduce(r: Reduction): Tensor {
    if (r.losses.numel() === 0) return zeroLoss(r.embeddings);
    if (r.labels === undefined)
      throw new RangeError(`ClassWeightedReducer: the loss gave no labels with its '${r.part}' terms`);
    const anchors = r.indices[0]!;
    const w = new Float64Array(anchors.length);
    for (let k = 0; k < anchors.length; k++) {
      const y = r.labels[anchors[k]!]!;
      const v = this.weights[y];
      if (v === undefined)
        throw new RangeError(`ClassWeightedReducer: no weight for class ${y} (${this.weights.length} weights)`);
      w[k] = v;
    }
    const wt = tensor(w, { dtype: r.losses.dtype, device: r.losses.device });
    return r.losses.mul(wt).mean();
  }
}
