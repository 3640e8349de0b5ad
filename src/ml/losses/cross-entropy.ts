// Plain softmax cross-entropy on classifier logits.
import type { Tensor } from '../../engine/index.js';
import { LogitLoss, type LossSplit } from './shared/base.js';
import { reduce } from './shared/reducers.js';
import { ceSplit, checkClassifierReducer, perSampleCrossEntropy, type ClassifierReducer } from './shared/softmax.js';

export interface CrossEntropyOptions {
  /** How per-sample losses are combined (default 'mean'). */
  reduction?: ClassifierReducer;
}

/**
 * ℓ_i = -log softmax(s_i)_{y_i} = log Σ_k exp(s_ik) - s_{i,y_i}, averaged over the batch.
 *
 * The paper's point (Boudiaf et al., ECCV 2020, §4): this is a bound on a pairwise loss, and its
 * two terms are a tightness part (-s_{i,y_i}) and a contrastive part (log Σ_k exp s_ik); split()
 * returns them.
 */
export class CrossEntropyLoss extends LogitLoss {
  readonly name = 'CrossEntropyLoss';
  readonly reduction: ClassifierReducer;
  constructor(o: CrossEntropyOptions = {}) {
    super();
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  protected compute(logits: Tensor, labels: readonly number[]): Tensor {
    return reduce(perSampleCrossEntropy(logits, labels), this.reduction, logits);
  }
  protected computeSplit(logits: Tensor, labels: readonly number[]): LossSplit {
    return ceSplit(logits, labels, this.reduction);
  }
}
