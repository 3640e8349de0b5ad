// Circle loss (Sun et al., CVPR 2020), for pair labels, as pytorch-metric-learning's CircleLoss.
import { type Tensor, where, zeros } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { maskedLogSumExp } from './shared/math.js';
import { refLabelsOf } from './shared/pairs.js';
import { CosineSimilarity } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface CircleOptions {
  /** m, the relaxation (default 0.4; the paper: 0.25 for faces and re-id, 0.4 for fine-grained retrieval). */
  m?: number;
  /** γ, the scale (default 80). */
  gamma?: number;
  /** Over anchors (default 'avgNonZero'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * With cosine similarities s, optima O_p = 1 + m, O_n = -m and margins Δ_p = 1 - m, Δ_n = m, each
 * anchor i with positives P_i and negatives N_i gives
 *   ℓ_i = softplus( log Σ_{p∈P_i} exp(-γ [O_p - s_ip]₊ (s_ip - Δ_p))
 *                 + log Σ_{n∈N_i} exp(γ [s_in - O_n]₊ (s_in - Δ_n)) )
 * where the weights [·]₊ are constants (detached), so each similarity is pushed in proportion
 * to how far it is from its optimum. Anchors missing either side give 0.
 */
export class CircleLoss extends MetricLoss {
  readonly name = 'CircleLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly m: number;
  readonly gamma: number;
  readonly reducer: ReducerName;
  readonly distance = new CosineSimilarity();
  constructor(o: CircleOptions = {}) {
    super();
    this.m = o.m ?? 0.4;
    this.gamma = o.gamma ?? 80;
    finiteNumber(this.name, 'm', this.m);
    finiteNumber(this.name, 'gamma', this.gamma, { min: 0, open: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'avgNonZero');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      cols = refLabelsOf(b).length;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const s = this.distance.matrix(b.x, b.refX);
    const posMask = maskFrom(t.a1, t.p, n, cols, b.device);
    const negMask = maskFrom(t.a2, t.n, n, cols, b.device);
    const sd = s.detach();
    const pos = sd
      .rsub(1 + this.m)
      .relu()
      .mul(s.sub(1 - this.m))
      .mul(-this.gamma);
    const neg = sd.add(this.m).relu().mul(s.sub(this.m)).mul(this.gamma);
    const lse = maskedLogSumExp(pos, posMask, false).add(maskedLogSumExp(neg, negMask, false));
    const both = posMask.any(1).logicalAnd(negMask.any(1));
    const losses = where(both, lse.softplus(), zeros([n], { dtype: s.dtype, device: b.device }));
    return reduce(losses, this.reducer, b.x);
  }
}

export const circleSpec = defineLoss({
  name: 'circle',
  create: (o: CircleOptions) => new CircleLoss(o),
});
