// Ranked list loss (Wang et al., "Ranked List Loss for Deep Metric Learning", CVPR 2019), as
// pytorch-metric-learning's RankedListLoss.
import { type Tensor, eye, where } from '../../engine/index.js';
import { MetricLoss, type Batch, type LossSplit } from './shared/base.js';
import { labelMask } from './shared/pairs.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface RankedListOptions {
  /** m, the gap between the positive and the negative boundary (default 0.4, the paper's). */
  margin?: number;
  /** T_n, the temperature weighting the negatives (default 1). */
  Tn?: number;
  /** λ, the weight of the negative part against the positive one (default 0.5). */
  imbalance?: number;
  /** α, the negative boundary (default 1 + m/2, i.e. 1.2 with the default m). */
  alpha?: number;
  /** T_p, the temperature weighting the positives (default 0: RLL-Simpler, equal weights). */
  Tp?: number;
  /** A distance, not a similarity (default: Euclidean on L2-normalised embeddings). */
  distance?: Distance | DistanceSpec;
  /** Over samples (default 'mean'). */
  reducer?: ReducerName;
}

/**
 * Each sample's positives should lie within α - m and its negatives beyond α. Over the violating
 * positives P*_i (d_ij > α - m) and negatives N*_i (d_ij < α), with weights w = exp(T (violation)):
 *   ℓ_i = (1 - λ) Σ_{P*} w_p (d - (α - m)) / (Σ_{P*} w_p + nε)  +  λ Σ_{N*} w_n (α - d) / (Σ_{N*} w_n + nε)
 * with ε = 1e-5 over the batch's n columns, as pytorch-metric-learning; the weights keep their
 * gradient. The weighted means are computed with the largest exponent factored out (and ε scaled
 * to match), the same numbers without exp overflow at large T or in half precision. A pair at
 * distance exactly 0 counts in neither set (pytorch-metric-learning keeps only non-zero entries).
 * pytorch-metric-learning requires margin and Tn; here they default to the paper's m and to 1.
 */
export class RankedListLoss extends MetricLoss {
  readonly name = 'RankedListLoss';
  readonly pairwise = true;
  override readonly usesTuples: boolean = false;
  protected override readonly noTuplesReason = 'it ranks every sample of the batch against each anchor';
  readonly margin: number;
  readonly Tn: number;
  readonly Tp: number;
  readonly imbalance: number;
  readonly alpha: number;
  readonly distance: Distance;
  readonly reducer: ReducerName;
  constructor(o: RankedListOptions = {}) {
    super();
    this.margin = o.margin ?? 0.4;
    this.Tn = o.Tn ?? 1;
    this.Tp = o.Tp ?? 0;
    this.imbalance = o.imbalance ?? 0.5;
    finiteNumber(this.name, 'margin', this.margin);
    finiteNumber(this.name, 'Tn', this.Tn, { min: 0 });
    finiteNumber(this.name, 'Tp', this.Tp, { min: 0 });
    finiteNumber(this.name, 'imbalance', this.imbalance, { min: 0, max: 1 });
    this.alpha = o.alpha ?? 1 + this.margin / 2;
    finiteNumber(this.name, 'alpha', this.alpha);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    if (this.distance.isSimilarity)
      throw new RangeError(`${this.name}: distance must be a distance, not the similarity '${this.distance.name}'`);
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
  }
  /** Σ w v / (Σ w + cols·1e-5) per row over `on`, w = exp(t·v), with the row's largest t·v factored out. */
  private weightedMean(v: Tensor, on: Tensor, t: number, cols: number): Tensor {
    const e = where(on, v.mul(t), -Infinity);
    const top = e.amax(1, true).detach();
    const shift = where(top.isfinite(), top, 0);
    const w = where(on, e.sub(shift).exp(), 0);
    const eps = shift
      .neg()
      .exp()
      .mul(cols * 1e-5)
      .squeeze(1);
    return w
      .mul(where(on, v, 0))
      .sum(1)
      .div(w.sum(1).add(eps));
  }
  private parts(b: Batch): { pos: Tensor; neg: Tensor } {
    const n = b.labels.length;
    const self = eye(n, n, { dtype: 'bool', device: b.device });
    const d = this.distance.matrix(b.x).maskedFill(self, 0);
    const nonZero = d.gt(0);
    const pos = labelMask(b.labels, b.labels, true, b.device, true)
      .logicalAnd(d.gt(this.alpha - this.margin))
      .logicalAnd(nonZero);
    const neg = labelMask(b.labels, b.labels, false, b.device).logicalAnd(d.lt(this.alpha)).logicalAnd(nonZero);
    const lossP = this.weightedMean(d.sub(this.alpha - this.margin), pos, this.Tp, n);
    const lossN = this.weightedMean(d.rsub(this.alpha), neg, this.Tn, n);
    return { pos: lossP.mul(1 - this.imbalance), neg: lossN.mul(this.imbalance) };
  }
  protected compute(b: Batch): Tensor {
    const { pos, neg } = this.parts(b);
    return reduce(pos.add(neg), this.reducer, b.x);
  }
  /** Tightness: the positive set's part, (1 - λ) ...; contrastive: the negative set's, λ .... */
  protected override computeSplit(b: Batch): LossSplit {
    if (this.reducer !== 'mean' && this.reducer !== 'sum')
      throw new RangeError(`${this.name}: split() needs reducer 'mean' or 'sum'`);
    const { pos, neg } = this.parts(b);
    return { tightness: reduce(pos, this.reducer, b.x), contrastive: reduce(neg, this.reducer, b.x) };
  }
}

export const rankedListSpec = defineLoss({
  name: 'ranked-list',
  create: (o: RankedListOptions) => new RankedListLoss(o),
});
