// Neighbourhood components analysis (Goldberger et al., NeurIPS 2004) as a batch loss, as
// pytorch-metric-learning's NCALoss.
import { type Tensor, eye, where } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { labelMask, minerWeights, refLabelsOf } from './shared/pairs.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, zeroLoss, type ReducerName } from '../reducers/index.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface NCAOptions {
  /** The softmax's scale (default 1). */
  softmaxScale?: number;
  /** Default: squared Euclidean on L2-normalised embeddings (pytorch-metric-learning's LpDistance(power=2)). */
  distance?: Distance | DistanceSpec;
  /** Over samples (default 'mean'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * Each sample picks a neighbour j ≠ i with probability softmax_j(-scale · d_ij) (a similarity is
 * not negated); ℓ_i = -log P(the neighbour has i's class). Samples with probability exactly 0
 * (no same-class sample) are left out. Mined tuples weigh the samples by how often they occur
 * (anchors only against a reference set). Against a reference set every reference row is a
 * candidate neighbour, a stored copy of the sample itself included (as in pytorch-metric-learning).
 */
export class NCALoss extends MetricLoss {
  readonly name = 'NCALoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly softmaxScale: number;
  readonly distance: Distance;
  readonly reducer: ReducerName;
  constructor(o: NCAOptions = {}) {
    super();
    this.softmaxScale = o.softmaxScale ?? 1;
    finiteNumber(this.name, 'softmaxScale', this.softmaxScale);
    this.distance = makeDistance(o.distance, { name: 'squared-euclidean', normalize: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length;
    if (n <= 1 && b.refX === undefined) return zeroLoss(b.x);
    const mat = this.distance.matrix(b.x, b.refX);
    let logits = (this.distance.isSimilarity ? mat : mat.neg()).mul(this.softmaxScale);
    if (b.refX === undefined) logits = logits.maskedFill(eye(n, n, { dtype: 'bool', device: b.device }), -Infinity);
    const same = labelMask(b.labels, refLabelsOf(b), true, b.device);
    const p = where(same, logits.softmax(1), 0).sum(1);
    const nonZero = p.ne(0);
    const w = minerWeights(b.tuples, n, b.refX !== undefined, b.x);
    const losses = where(nonZero, p, 1).log().neg().mul(w);
    return reduce(losses.maskedSelect(nonZero), this.reducer, b.x);
  }
}

export const ncaSpec = defineLoss({
  name: 'nca',
  create: (o: NCAOptions) => new NCALoss(o),
});
