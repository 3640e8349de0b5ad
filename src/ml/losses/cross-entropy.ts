// Plain softmax cross-entropy on classifier logits.
import type { Tensor } from '../../engine/index.js';
import { LogitLoss, type LossSplit } from './shared/base.js';
import { reduce } from '../reducers/index.js';
import { ceParts, checkClassifierReducer, checkSplitReduction, type ClassifierReducer } from './shared/softmax.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface CrossEntropyOptions {
  /** How per-sample losses are combined (default 'mean'). */
  reduction?: ClassifierReducer;
  /**
   * PyTorch's label_smoothing (torch.nn.CrossEntropyLoss, F.crossEntropy): the target is
   * (1 - labelSmoothing) on the true class plus labelSmoothing / C on every class, the true one
   * included. Default 0. The paper's ε (ε / (C - 1) on the other classes only) is smooth-ce's epsilon.
   */
  labelSmoothing?: number;
}

/**
 * ℓ_i = -log softmax(s_i)_{y_i} = log Σ_k exp(s_ik) - s_{i,y_i}, averaged over the batch; with
 * labelSmoothing ls, ℓ_i = log Σ_k exp(s_ik) - (1 - ls) s_{i,y_i} - (ls / C) Σ_k s_ik.
 *
 * The paper's point (Boudiaf et al., ECCV 2020, §4): this is a bound on a pairwise loss, and its
 * two terms are a tightness part (-s_{i,y_i}) and a contrastive part (log Σ_k exp s_ik); split()
 * returns them.
 */
export class CrossEntropyLoss extends LogitLoss {
  readonly name = 'CrossEntropyLoss';
  readonly reduction: ClassifierReducer;
  readonly labelSmoothing: number;
  constructor(o: CrossEntropyOptions = {}) {
    super();
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
    this.labelSmoothing = o.labelSmoothing ?? 0;
    finiteNumber(this.name, 'labelSmoothing', this.labelSmoothing, { min: 0, max: 1 });
  }
  protected compute(logits: Tensor, labels: readonly number[]): Tensor {
    const { tightness, contrastive } = this.parts(logits, labels);
    return reduce(contrastive.add(tightness), this.reduction, logits, { labels });
  }
  protected computeSplit(logits: Tensor, labels: readonly number[]): LossSplit {
    checkSplitReduction(this.reduction);
    const { tightness, contrastive } = this.parts(logits, labels);
    return {
      tightness: reduce(tightness, this.reduction, logits, { labels }),
      contrastive: reduce(contrastive, this.reduction, logits, { labels }),
    };
  }
  /** Per-sample parts; smoothing moves part of the pull from the true logit to the mean logit. */
  private parts(logits: Tensor, labels: readonly number[]): { tightness: Tensor; contrastive: Tensor } {
    const { tightness, contrastive } = ceParts(logits, labels);
    const ls = this.labelSmoothing;
    if (ls === 0) return { tightness, contrastive };
    return { tightness: tightness.mul(1 - ls).sub(logits.mean(1).mul(ls)), contrastive };
  }
}

export const crossEntropySpec = defineLoss({
  name: 'cross-entropy',
  create: (o: CrossEntropyOptions) => new CrossEntropyLoss(o),
});
