// The paper's loss: label-smoothed cross-entropy, as SmoothCrossEntropy in the authors' code
// (jeromerony/dml_cross_entropy, utils/utils.py).
import { type Tensor, full, where } from '../../engine/index.js';
import { LogitLoss, type LossSplit } from './shared/base.js';
import { reduce } from '../reducers/index.js';
import { checkClassifierReducer, checkSplitReduction, type ClassifierReducer } from './shared/softmax.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber, LossInputError } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface SmoothCrossEntropyOptions {
  /** ε: the probability mass moved off the true class (default 0.1, the paper's value). */
  epsilon?: number;
  /** Default 'mean' (the reference returns per-sample values and its training loop takes .mean()). */
  reduction?: ClassifierReducer;
}

/**
 * Target t_i: 1 - ε on the true class, ε / (C - 1) on each other class. The loss of sample i is
 *   KL(t_i ‖ softmax(s_i)) = Σ_k t_ik (log t_ik - log softmax(s_i)_k)
 * (F.kl_div(log_softmax(s), t, reduction='none').sum(1) with 0·log 0 = 0), averaged over the batch.
 * It differs from PyTorch's label_smoothing (which spreads ε/C over all classes, the true one too)
 * and from the smoothed cross-entropy by the constant entropy Σ t log t, which keeps the minimum at 0.
 *
 * split(): tightness Σ_k t_ik log t_ik - Σ_k t_ik s_ik, contrastive log Σ_k exp s_ik
 * (their sum is the KL because Σ_k t_ik = 1).
 */
export class SmoothCrossEntropyLoss extends LogitLoss {
  readonly name = 'SmoothCrossEntropyLoss';
  readonly epsilon: number;
  readonly reduction: ClassifierReducer;
  constructor(o: SmoothCrossEntropyOptions = {}) {
    super();
    this.epsilon = o.epsilon ?? 0.1;
    finiteNumber(this.name, 'epsilon', this.epsilon, { min: 0, max: 1 });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }

  /** The smoothed target distribution t [n, C]. */
  target(logits: Tensor, labels: readonly number[]): Tensor {
    const c = logits.shape[1]!;
    if (c < 2 && this.epsilon > 0)
      throw new LossInputError(
        this.name,
        'logits',
        `have ${c} class; smoothing (epsilon ${this.epsilon}) needs at least 2`,
      );
    const off = c > 1 ? this.epsilon / (c - 1) : 0;
    const base = full(logits.shape, off, logits.dtype, { device: logits.device });
    return base.scatter(1, indexTensor(labels, logits.device).unsqueeze(1), 1 - this.epsilon);
  }

  /** Σ_k t_ik log t_ik per row (0 log 0 = 0): the negative entropy of the target. */
  private negEntropy(t: Tensor): Tensor {
    const pos = t.gt(0);
    return where(pos, t.mul(where(pos, t, 1).log()), 0).sum(1);
  }

  protected compute(logits: Tensor, labels: readonly number[]): Tensor {
    const t = this.target(logits, labels);
    const perSample = this.negEntropy(t).sub(t.mul(logits.logSoftmax(1)).sum(1));
    return reduce(perSample, this.reduction, logits, { labels });
  }

  protected computeSplit(logits: Tensor, labels: readonly number[]): LossSplit {
    checkSplitReduction(this.reduction);
    const t = this.target(logits, labels);
    const tightness = this.negEntropy(t).sub(t.mul(logits).sum(1));
    return {
      tightness: reduce(tightness, this.reduction, logits, { labels }),
      contrastive: reduce(logits.logsumexp(1), this.reduction, logits, { labels }),
    };
  }
}

export const smoothCrossEntropySpec = defineLoss({
  name: 'smooth-ce',
  create: (o: SmoothCrossEntropyOptions) => new SmoothCrossEntropyLoss(o),
  note: "the paper's",
});
