// Angular loss (Wang et al., "Deep Metric Learning with Angular Loss", ICCV 2017), in the
// N-pair form of pytorch-metric-learning's AngularLoss.
import { type Tensor, normalize } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { maskedLogSumExp } from './shared/math.js';
import { labelMask, refLabelsOf, refRows } from './shared/pairs.js';
import { checkReducer, reduce, zeroLoss, type ReducerName } from '../reducers/index.js';
import { indexTensor, toPairs } from '../utils/tuples.js';
import { checkAngle, degrees } from './shared/angle.js';
import { defineLoss } from './shared/spec.js';

export interface AngularOptions {
  /**
   * α, the angle at the negative, in radians (default 40° = 2π/9). pytorch-metric-learning takes
   * degrees; values of π/2 or more are refused, so a degree value is not read as radians.
   */
  alpha?: number;
  /** Over positive pairs (default 'mean'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * For each positive pair (a, p) of L2-normalised embeddings, over every reference sample n of
 * another class than a (all of them, not only mined negatives, as in pytorch-metric-learning):
 *   ℓ_ap = log(1 + Σ_n exp(4 tan²α (x_a + x_p)ᵀ x_n - 2 (1 + tan²α) x_aᵀ x_p))
 * It bounds the angle at n in the triangle (a, p, n), which does not depend on the scale of the
 * distances. No positive or no negative pair gives 0. One deliberate difference: x_n is normalised
 * too, as in the paper; pytorch-metric-learning normalises a and p but multiplies the raw
 * negatives, so the two agree on normalised embeddings (what its own tests pass).
 */
export class AngularLoss extends MetricLoss {
  readonly name = 'AngularLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly alpha: number;
  readonly reducer: ReducerName;
  constructor(o: AngularOptions = {}) {
    super();
    this.alpha = o.alpha ?? degrees(40);
    checkAngle(this.name, 'alpha', this.alpha, { max: Math.PI / 2, openMin: true, openMax: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    if (t.a1.length === 0 || t.a2.length === 0) return zeroLoss(b.x);
    const x = normalize(b.x);
    const ref = normalize(refRows(b));
    const a = x.indexSelect(0, indexTensor(t.a1, b.device));
    const p = ref.indexSelect(0, indexTensor(t.p, b.device));
    const tan2 = Math.tan(this.alpha) ** 2;
    const apDot = a.mul(p).sum(1, true);
    const final = a
      .add(p)
      .matmul(ref.t())
      .mul(4 * tan2)
      .sub(apDot.mul(2 * (1 + tan2)));
    const anchorLabels = t.a1.map((i) => b.labels[i]!);
    const keep = labelMask(anchorLabels, refLabelsOf(b), false, b.device);
    return reduce(maskedLogSumExp(final, keep, true), this.reducer, b.x);
  }
}

export const angularSpec = defineLoss({
  name: 'angular',
  create: (o: AngularOptions) => new AngularLoss(o),
});
