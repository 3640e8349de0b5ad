// Triplet margin loss (Weinberger & Saul 2009; Schroff et al., FaceNet 2015), with batch-all,
// semi-hard or batch-hard triplets.
import type { Tensor } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, isNoReduction, reduce, splitReduce, zeroLoss, type ReducerLike } from '../reducers/index.js';
import { indexTensor, toTriplets, type TripletTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { BatchHardMiner } from '../miners/batch-hard-miner.js';
import { TripletMarginMiner } from '../miners/triplet-margin-miner.js';
import { defineLoss } from './shared/spec.js';

export type TripletMining = 'all' | 'semihard' | 'hard';

export interface TripletMarginOptions extends EmbeddingRegularizerOptions {
  /** m (default 0.05). */
  margin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /**
   * Which triplets, when forward() gets no indices and no miner is given:
   * - all: every valid triplet (batch-all)
   * - semihard: those with 0 < d_an - d_ap ≤ m (TripletMarginMiner 'semihard' with this margin)
   * - hard: one per anchor, hardest positive and hardest negative (BatchHardMiner)
   * Default 'all'.
   */
  mining?: TripletMining;
  /** Default 'avgNonZero'; a Reducer object gets the triplets as PML's 'triplet' terms. */
  reducer?: ReducerLike;
  /** Overrides `mining`. */
  miner?: Miner;
  /**
   * log(1 + e^v) instead of relu(v) (pytorch-metric-learning's smooth_loss; with margin 0 the
   * soft-margin triplet of Hermans et al. 2017). Default false.
   */
  smooth?: boolean;
}

/**
 * ℓ_apn = relu(d_ap - d_an + m) (for a similarity: relu(s_an - s_ap + m)); L = R(ℓ), R =
 * avgNonZero by default (mean over the triplets still violating the margin). A batch without a
 * valid triplet (one class, or only singleton classes) gives 0 with a zero gradient.
 *
 * split(): a violated hinge is linear, so on the active triplets ℓ = d_ap + (m - d_an): the
 * tightness part is R over active triplets of d_ap (-s_ap), the contrastive part of m - d_an
 * (s_an + m); inactive triplets contribute to neither. With `smooth` every triplet is active,
 * and its contrastive part is log(1 + e^v) - d_ap, so the parts still add up to the loss.
 */
export class TripletMarginLoss extends MetricLoss {
  readonly name = 'TripletMarginLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly margin: number;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  readonly mining: TripletMining;
  readonly smooth: boolean;
  constructor(o: TripletMarginOptions = {}) {
    super(o);
    this.margin = o.margin ?? 0.05;
    finiteNumber(this.name, 'margin', this.margin);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'avgNonZero');
    this.mining = o.mining ?? 'all';
    this.smooth = o.smooth ?? false;
    if (typeof this.smooth !== 'boolean')
      throw new TypeError(`${this.name}: smooth must be true or false, got ${JSON.stringify(this.smooth)}`);
    if (!['all', 'semihard', 'hard'].includes(this.mining))
      throw new RangeError(`${this.name}: mining must be all | semihard | hard, got '${this.mining}'`);
    this.miner =
      o.miner ??
      (this.mining === 'semihard'
        ? new TripletMarginMiner({ margin: this.margin, type: 'semihard', distance: this.distance })
        : this.mining === 'hard'
          ? new BatchHardMiner({ distance: this.distance })
          : undefined);
  }
  private violations(b: Batch): { ap: Tensor; viol: Tensor; t: TripletTuples } | null {
    const t = toTriplets(b.tuples, b.labels, b.refLabels);
    if (t.a.length === 0) return null;
    const mat = this.distance.matrix(b.x, b.refX);
    const a = indexTensor(t.a, b.device);
    const ap = mat.index([a, indexTensor(t.p, b.device)]);
    const an = mat.index([a, indexTensor(t.n, b.device)]);
    return { ap, viol: this.distance.margin(ap, an).add(this.margin), t };
  }
  protected compute(b: Batch): Tensor {
    const v = this.violations(b);
    if (v === null) return isNoReduction(this.reducer) ? b.x.sum(1).mul(0).narrow(0, 0, 0) : zeroLoss(b.x);
    return reduce(this.smooth ? v.viol.softplus() : v.viol.relu(), this.reducer, b.x, {
      kind: 'triplet',
      indices: [v.t.a, v.t.p, v.t.n],
      labels: b.labels,
    });
  }
  protected override computeSplit(b: Batch): LossSplit {
    const v = this.violations(b);
    if (v === null) return { tightness: zeroLoss(b.x), contrastive: zeroLoss(b.x) };
    const active = this.smooth ? v.viol.ge(-Infinity) : v.viol.gt(0);
    const tight = this.distance.margin(v.ap, 0); // d_ap, or -s_ap
    const piece = this.smooth ? v.viol.softplus() : v.viol;
    const [tightness, contrastive] = splitReduce(
      [tight, piece.sub(tight)],
      [active, active],
      [active],
      v.viol.numel(),
      this.reducer,
      b.x,
    );
    return { tightness: tightness!, contrastive: contrastive! };
  }
}

export const tripletMarginSpec = defineLoss({
  name: 'triplet',
  create: (o: TripletMarginOptions) => new TripletMarginLoss(o),
});
