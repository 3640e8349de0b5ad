// FastAP (Cakir et al., "Deep Metric Learning to Rank", CVPR 2019), as pytorch-metric-learning's
// FastAPLoss (adapted there from the authors' code).
import { type Tensor, linspace, where } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { labelMask, minerWeights } from './shared/pairs.js';
import { SquaredEuclideanDistance } from '../distances/index.js';
import { checkReducer, reduce, zeroLoss, type ReducerName } from '../reducers/index.js';
import { positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface FastAPOptions {
  /** Histogram bins over the distance range [0, 4] (default 10). */
  numBins?: number;
  /** Over the anchors that have a positive (default 'mean'). */
  reducer?: ReducerName;
  /** Its tuples only weigh the anchors (how often each occurs); the histograms use every pair. */
  miner?: Miner;
}

/**
 * Average precision of each anchor's ranking of the batch, made differentiable by soft-binning
 * the squared Euclidean distances d ∈ [0, 4] of L2-normalised embeddings into triangular bins
 * (centres z_0..z_B, width Δ = 4/B): with h⁺_k, h_k the soft counts of positives and of all others
 * in bin k and H⁺_k, H_k their cumulative sums,
 *   FastAP_i = 1/N⁺_i Σ_k h⁺_k H⁺_k / H_k,   ℓ_i = 1 - FastAP_i
 * over anchors with at least one positive. A batch where no bin holds a positive gives 0.
 */
export class FastAPLoss extends MetricLoss {
  readonly name = 'FastAPLoss';
  readonly pairwise = true;
  readonly numBins: number;
  readonly reducer: ReducerName;
  readonly distance = new SquaredEuclideanDistance({ normalize: true });
  constructor(o: FastAPOptions = {}) {
    super();
    this.numBins = o.numBins ?? 10;
    positiveInteger(this.name, 'numBins', this.numBins);
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      dt = b.x.dtype;
    const iPos = labelMask(b.labels, b.labels, true, b.device, true).to(dt),
      iNeg = labelMask(b.labels, b.labels, false, b.device).to(dt);
    const nPos = iPos.sum(1);
    if (!b.labels.some((y, i) => b.labels.some((z, j) => j !== i && z === y))) return zeroLoss(b.x);
    const dist = this.distance.matrix(b.x);
    const max = 4,
      delta = max / this.numBins;
    const mid = linspace(0, max, this.numBins + 1, { dtype: dt, device: b.device }).view(-1, 1, 1);
    const pulse = dist.unsqueeze(0).sub(mid).abs().div(delta).rsub(1).relu(); // [B+1, n, n]
    const posHist = pulse.mul(iPos).sum(2).t(); // [n, B+1]
    const negHist = pulse.mul(iNeg).sum(2).t();
    const hPos = posHist.mul(posHist.cumsum(1));
    const total = posHist.add(negHist).cumsum(1);
    const safe = hPos.gt(0).logicalAnd(total.gt(0));
    if (!safe.any().item()) return zeroLoss(b.x);
    const ap = where(safe, hPos.div(where(safe, total, 1)), 0).sum(1);
    const has = nPos.gt(0);
    const w = minerWeights(b.tuples, n, false, b.x);
    const losses = ap
      .div(where(has, nPos, 1))
      .rsub(1)
      .mul(w);
    return reduce(losses.maskedSelect(has), this.reducer, b.x);
  }
}

export const fastAPSpec = defineLoss({
  name: 'fast-ap',
  create: (o: FastAPOptions) => new FastAPLoss(o),
});
