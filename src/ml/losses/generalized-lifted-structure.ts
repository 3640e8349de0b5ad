// The generalised lifted structure loss (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss
// for Person Re-Identification", 2017, p. 4), as pytorch-metric-learning's GeneralizedLiftedStructureLoss.
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { maskedLogSumExp } from './shared/math.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface GeneralizedLiftedStructureOptions {
  /** m⁻ (default 1). */
  negMargin?: number;
  /** m⁺ (default 0). */
  posMargin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /** Over anchors (default 'mean'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * Per anchor rather than per positive pair (the original lifted structure loss):
 *   ℓ_i = [ log Σ_{p∈P_i} exp(d_ip - m⁺) + log Σ_{n∈N_i} exp(m⁻ - d_in) ]₊
 * a smooth hardest positive against a smooth hardest negative (for a similarity the signs flip).
 * An anchor missing a side has 0 for that log-sum.
 */
export class GeneralizedLiftedStructureLoss extends MetricLoss {
  readonly name = 'GeneralizedLiftedStructureLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly negMargin: number;
  readonly posMargin: number;
  readonly distance: Distance;
  readonly reducer: ReducerName;
  constructor(o: GeneralizedLiftedStructureOptions = {}) {
    super();
    this.negMargin = o.negMargin ?? 1;
    this.posMargin = o.posMargin ?? 0;
    finiteNumber(this.name, 'negMargin', this.negMargin);
    finiteNumber(this.name, 'posMargin', this.posMargin);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      cols = b.refLabels?.length ?? n;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    const pos = maskedLogSumExp(
      this.distance.margin(mat, this.posMargin),
      maskFrom(t.a1, t.p, n, cols, b.device),
      false,
    );
    const neg = maskedLogSumExp(
      this.distance.margin(this.negMargin, mat),
      maskFrom(t.a2, t.n, n, cols, b.device),
      false,
    );
    return reduce(pos.add(neg).relu(), this.reducer, b.x);
  }
}

export const generalizedLiftedStructureSpec = defineLoss({
  name: 'generalized-lifted-structure',
  create: (o: GeneralizedLiftedStructureOptions) => new GeneralizedLiftedStructureLoss(o),
});
