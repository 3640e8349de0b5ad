// Lifted structured loss (Oh Song et al., CVPR 2016).
import { type Tensor, stack } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { maskedLogSumExp } from './shared/math.js';
import { checkReducer, reduce, zeroLoss, type ReducerLike } from '../reducers/index.js';
import { indexTensor, maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface LiftedStructureOptions extends EmbeddingRegularizerOptions {
  /** α, the negative margin (default 1). */
  negMargin?: number;
  /** Subtracted from positive distances (default 0). */
  posMargin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /** Over ordered positive pairs (default 'mean'). */
  reducer?: ReducerLike;
  miner?: Miner;
}

/**
 * For each positive pair (i, j), with N_i the negatives of i:
 *   J_ij = log( Σ_{k∈N_i} exp(α - D_ik) + Σ_{l∈N_j} exp(α - D_jl) ) + D_ij - m⁺
 *   L = 1/(2|P|) Σ_{(i,j)∈P} relu(J_ij)²
 * computed over ordered pairs as mean_{(i,j) ordered} relu(J_ij)²/2, which is the same number.
 * The negatives of i and of j are combined as logaddexp of per-anchor log-sums (O(n²) memory).
 * No positive or no negative pair gives 0. Not split: the hinge is squared, so the two terms
 * do not separate additively.
 */
export class LiftedStructureLoss extends MetricLoss {
  readonly name = 'LiftedStructureLoss';
  readonly pairwise = true;
  readonly negMargin: number;
  readonly posMargin: number;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  constructor(o: LiftedStructureOptions = {}) {
    super(o);
    this.negMargin = o.negMargin ?? 1;
    this.posMargin = o.posMargin ?? 0;
    finiteNumber(this.name, 'negMargin', this.negMargin);
    finiteNumber(this.name, 'posMargin', this.posMargin);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length;
    const t = toPairs(b.tuples, b.labels);
    if (t.a1.length === 0 || t.a2.length === 0) return zeroLoss(b.x);
    const mat = this.distance.matrix(b.x);
    const negMask = maskFrom(t.a2, t.n, n, n, b.device);
    const rowLse = maskedLogSumExp(this.distance.margin(this.negMargin, mat), negMask, false); // [n]
    const rowAny = negMask.any(1);
    const a1 = indexTensor(t.a1, b.device),
      p = indexTensor(t.p, b.device);
    const pairLse = maskedLogSumExp(
      stack([rowLse.indexSelect(0, a1), rowLse.indexSelect(0, p)], 1),
      stack([rowAny.indexSelect(0, a1), rowAny.indexSelect(0, p)], 1),
      false,
    );
    const j = pairLse.add(this.distance.margin(mat.index([a1, p]), this.posMargin));
    return reduce(j.relu().square().div(2), this.reducer, b.x, {
      kind: 'posPair',
      indices: [t.a1, t.p],
      labels: b.labels,
    });
  }
}

export const liftedStructureSpec = defineLoss({
  name: 'lifted-structure',
  create: (o: LiftedStructureOptions) => new LiftedStructureLoss(o),
});
