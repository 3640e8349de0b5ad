// Multi-similarity loss (Wang et al., CVPR 2019).
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { maskedLogSumExp } from './shared/math.js';
import { checkReducer, reduce, type ReducerLike } from '../reducers/index.js';
import { maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface MultiSimilarityOptions extends EmbeddingRegularizerOptions {
  /** α, the positive-pair temperature (default 2). */
  alpha?: number;
  /** β, the negative-pair temperature (default 50). */
  beta?: number;
  /** λ, the similarity offset (default 0.5). */
  base?: number;
  /** Default: cosine similarity. */
  distance?: Distance | DistanceSpec;
  /** Over anchors (default 'mean'). */
  reducer?: ReducerLike;
  /** E.g. a MultiSimilarityMiner (the paper's pair mining); default none: all pairs. */
  miner?: Miner;
}

/**
 * For each anchor i, over its (mined) positives P_i and negatives N_i with similarities S:
 *   ℓ_i = 1/α · log(1 + Σ_{p∈P_i} exp(-α(S_ip - λ)))    (tightness)
 *       + 1/β · log(1 + Σ_{n∈N_i} exp( β(S_in - λ)))    (contrastive)
 * and L = mean over the batch's anchors (anchors without pairs contribute 0). With a distance
 * the signs flip (exp(α(D_ip - λ)), exp(β(λ - D_in))).
 */
export class MultiSimilarityLoss extends MetricLoss {
  readonly name = 'MultiSimilarityLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly alpha: number;
  readonly beta: number;
  readonly base: number;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  constructor(o: MultiSimilarityOptions = {}) {
    super(o);
    this.alpha = o.alpha ?? 2;
    this.beta = o.beta ?? 50;
    this.base = o.base ?? 0.5;
    finiteNumber(this.name, 'alpha', this.alpha, { min: 0, open: true });
    finiteNumber(this.name, 'beta', this.beta, { min: 0, open: true });
    finiteNumber(this.name, 'base', this.base);
    this.distance = makeDistance(o.distance, { name: 'cosine' });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  private terms(b: Batch): { pos: Tensor; neg: Tensor } {
    const n = b.labels.length,
      m = b.refLabels?.length ?? n;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    const posMask = maskFrom(t.a1, t.p, n, m, b.device);
    const negMask = maskFrom(t.a2, t.n, n, m, b.device);
    const pos = maskedLogSumExp(this.distance.margin(mat, this.base).mul(this.alpha), posMask, true).div(this.alpha);
    const neg = maskedLogSumExp(this.distance.margin(this.base, mat).mul(this.beta), negMask, true).div(this.beta);
    return { pos, neg };
  }
  protected compute(b: Batch): Tensor {
    const { pos, neg } = this.terms(b);
    return reduce(pos.add(neg), this.reducer, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    if (this.reducer !== 'mean' && this.reducer !== 'sum')
      throw new RangeError(`${this.name}: split() needs reducer 'mean' or 'sum'`);
    const { pos, neg } = this.terms(b);
    return { tightness: reduce(pos, this.reducer, b.x), contrastive: reduce(neg, this.reducer, b.x) };
  }
}

export const multiSimilaritySpec = defineLoss({
  name: 'multi-similarity',
  create: (o: MultiSimilarityOptions) => new MultiSimilarityLoss(o),
});
