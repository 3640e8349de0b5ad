// Tuplet margin loss (Yu & Tao, "Deep Metric Learning with Tuplet Margin Loss", ICCV 2019), as
// pytorch-metric-learning's TupletMarginLoss.
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { machineEpsilon, maskedLogSumExp } from './shared/math.js';
import { checkAngle, degrees } from './shared/angle.js';
import { CosineSimilarity } from '../distances/index.js';
import { checkReducer, reduce, zeroLoss, type ReducerName } from '../reducers/index.js';
import { indexTensor, maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface TupletMarginOptions {
  /**
   * β, the angular margin in radians (default 5.73° ≈ 0.1). pytorch-metric-learning takes
   * degrees; values beyond π/2 are refused.
   */
  margin?: number;
  /** s, the scale (default 64). */
  scale?: number;
  /** Over positive pairs (default 'mean'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * With cosines s and θ_ap the angle of the positive pair, for each positive pair (a, p) over the
 * negatives n of the same anchor:
 *   ℓ_ap = log(1 + Σ_n exp(s (cos θ_an - cos(θ_ap - β))))
 * The sum is taken per anchor first — log(1 + exp(LSE_n(s cos θ_an) - s cos(θ_ap - β))) — which is
 * the same number without an [positive pairs × negative pairs] matrix. cos(θ - β) is computed as
 * cos θ cos β + sin θ sin β with sin θ = √max(1 - cos²θ, ε): pytorch-metric-learning's acos gives
 * NaN when rounding puts a cosine at or past 1 (identical embeddings, low precision), this stays
 * finite and differs only where 1 - cos²θ < ε (ε the dtype's machine epsilon).
 */
export class TupletMarginLoss extends MetricLoss {
  readonly name = 'TupletMarginLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly margin: number;
  readonly scale: number;
  readonly reducer: ReducerName;
  readonly distance = new CosineSimilarity();
  constructor(o: TupletMarginOptions = {}) {
    super();
    this.margin = o.margin ?? degrees(5.73);
    checkAngle(this.name, 'margin', this.margin, { max: Math.PI / 2 });
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      cols = b.refLabels?.length ?? n;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    if (t.a1.length === 0 || t.a2.length === 0) return zeroLoss(b.x);
    const s = this.distance.matrix(b.x, b.refX);
    const a1 = indexTensor(t.a1, b.device);
    const cap = s.index([a1, indexTensor(t.p, b.device)]);
    const sin = cap.square().rsub(1).clampMin(machineEpsilon(cap.dtype)).sqrt();
    const shifted = cap.mul(Math.cos(this.margin)).add(sin.mul(Math.sin(this.margin)));
    const negMask = maskFrom(t.a2, t.n, n, cols, b.device);
    const negLse = maskedLogSumExp(s.mul(this.scale), negMask, false).indexSelect(0, a1);
    const hasNeg = negMask.any(1).indexSelect(0, a1);
    const inside = negLse.sub(shifted.mul(this.scale)).unsqueeze(1);
    return reduce(maskedLogSumExp(inside, hasNeg.unsqueeze(1), true), this.reducer, b.x);
  }
}

export const tupletMarginSpec = defineLoss({
  name: 'tuplet-margin',
  create: (o: TupletMarginOptions) => new TupletMarginLoss(o),
});
