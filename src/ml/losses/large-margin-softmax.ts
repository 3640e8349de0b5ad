// Large-margin softmax (Liu et al., "Large-Margin Softmax Loss for Convolutional Neural Networks",
// ICML 2016), as pytorch-metric-learning's LargeMarginSoftmaxLoss.
import { type Tensor, noGrad } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import {
  ceSplit,
  checkClassifierReducer,
  perSampleCrossEntropy,
  targetLogits,
  type ClassifierReducer,
} from './shared/softmax.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface LargeMarginSoftmaxOptions extends ClassTableOptions {
  /** m, the integer angle multiplier (default 4). */
  margin?: number;
  /** s, a factor on every logit (default 1). */
  scale?: number;
  reduction?: ClassifierReducer;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * cos(mθ) from c = cos θ by the multiple-angle formula Σ_k (-1)^k C(m, 2k) c^(m-2k) (1 - c²)^k,
 * then ψ(θ) = (-1)^j cos(mθ) - 2j for θ ∈ [jπ/m, (j+1)π/m], which keeps ψ decreasing in θ.
 */
function psi(c: Tensor, m: number): Tensor {
  const s2 = c.square().rsub(1);
  let cosM: Tensor | null = null;
  for (let k = 0; 2 * k <= m; k++) {
    const term = c
      .pow(m - 2 * k)
      .mul(s2.pow(k))
      .mul((-1) ** k * binomial(m, 2 * k));
    cosM = cosM === null ? term : cosM.add(term);
  }
  // j, the angle's sector, is a constant: the gradient goes through cos(mθ) only.
  const j = noGrad(() =>
    c
      .clamp(-1, 1)
      .acos()
      .div(Math.PI / m)
      .floor(),
  );
  const sign = j.remainder(2).mul(-2).add(1); // (-1)^j
  return cosM!.mul(sign).sub(j.mul(2));
}

/**
 * With θ_ik the angle between x_i and w_k, the true-class cosine is replaced by ψ(θ_{i,y_i}) (a
 * margin that multiplies the angle by m), then each logit is scaled by |w_k| |x_i| s:
 *   s_ik = s |w_k| |x_i| (ψ(θ_ik) if k = y_i else cos θ_ik);   ℓ_i = CE(s_i, y_i)
 * Parameter: `weight` [numClasses, embeddingSize] (pytorch-metric-learning's `W` is its transpose).
 */
export class LargeMarginSoftmaxLoss extends ClassTableLoss {
  readonly name: string = 'LargeMarginSoftmaxLoss';
  readonly margin: number;
  readonly scale: number;
  readonly reduction: ClassifierReducer;
  constructor(o: LargeMarginSoftmaxOptions, where = 'LargeMarginSoftmaxLoss') {
    super(where, 'weight', o);
    this.margin = o.margin ?? 4;
    positiveInteger(where, 'margin', this.margin);
    this.scale = o.scale ?? 1;
    finiteNumber(where, 'scale', this.scale, { min: 0, open: true });
    this.reduction = checkClassifierReducer(where, o.reduction ?? 'mean');
  }
  /** |w_k| |x_i| for every logit (SphereFace: |x_i| only). */
  protected magnitudes(x: Tensor): Tensor {
    return x.norm(2, 1, true).mul(this.table.norm(2, 1).unsqueeze(0));
  }
  logits(x: Tensor, labels: readonly number[]): Tensor {
    const cos = this.cosines(x);
    const target = psi(targetLogits(cos, labels), this.margin);
    const idx = indexTensor(labels, x.device).unsqueeze(1);
    return cos.scatter(1, idx, target.unsqueeze(1)).mul(this.magnitudes(x)).mul(this.scale);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x, b.labels), b.labels), this.reduction, b.x);
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x, b.labels), b.labels, this.reduction);
  }
}

export const largeMarginSoftmaxSpec = defineLoss({
  name: 'large-margin-softmax',
  create: (o: LargeMarginSoftmaxOptions) => new LargeMarginSoftmaxLoss(o),
  classTable: true,
});
