// Contrastive loss (Hadsell, Chopra & LeCun, CVPR 2006), in the margin form of
// pytorch-metric-learning.
import { type Tensor, cat } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, isNoReduction, reduce, type ReducerLike } from '../reducers/index.js';
import { indexTensor, toPairs, type PairTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ContrastiveOptions extends EmbeddingRegularizerOptions {
  /** m⁺: positive pairs are penalised beyond this distance (default 0). */
  posMargin?: number;
  /** m⁻: negative pairs are penalised inside this distance (default 1). */
  negMargin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /** Square each per-pair term (Hadsell et al.'s quadratic form, without its ½). Default false. */
  squared?: boolean;
  /**
   * Applied to the positive and the negative terms separately (default 'avgNonZero'); a Reducer
   * object sees them as PML's parts 'pos_loss' and 'neg_loss'.
   */
  reducer?: ReducerLike;
  miner?: Miner;
}

/**
 * Over ordered pairs (i ≠ j) with distance d_ij:
 *   positive (same label):      ℓ⁺_ij = relu(d_ij - m⁺)        (squared: relu(d_ij - m⁺)²)
 *   negative (different label): ℓ⁻_ij = relu(m⁻ - d_ij)        (squared: relu(m⁻ - d_ij)²)
 *   L = R(ℓ⁺) + R(ℓ⁻), R = avgNonZero by default (the mean over pairs still violating their margin).
 * For a similarity the margins flip (relu(m⁺ - s), relu(s - m⁻)). The positive part is the
 * tightness term of Boudiaf et al., the negative part the contrastive term; split() returns both.
 */
export class ContrastiveLoss extends MetricLoss {
  readonly name: string = 'ContrastiveLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly posMargin: number;
  readonly negMargin: number;
  readonly squared: boolean;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  /** fixedDistance: a subclass's own distance, in place of the `distance` option (which is then not read). */
  constructor(o: ContrastiveOptions = {}, fixedDistance?: Distance) {
    super(o);
    this.posMargin = o.posMargin ?? 0;
    this.negMargin = o.negMargin ?? 1;
    finiteNumber(this.name, 'posMargin', this.posMargin);
    finiteNumber(this.name, 'negMargin', this.negMargin);
    this.squared = o.squared ?? false;
    this.distance = fixedDistance ?? makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'avgNonZero');
    this.miner = o.miner;
  }
  private terms(b: Batch): { pos: Tensor; neg: Tensor; t: PairTuples } {
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    const dPos = mat.index([indexTensor(t.a1, b.device), indexTensor(t.p, b.device)]);
    const dNeg = mat.index([indexTensor(t.a2, b.device), indexTensor(t.n, b.device)]);
    let pos = this.distance.margin(dPos, this.posMargin).relu();
    let neg = this.distance.margin(this.negMargin, dNeg).relu();
    if (this.squared) {
      pos = pos.square();
      neg = neg.square();
    }
    return { pos, neg, t };
  }
  /** Each part through the reducer, under PML's names for them. */
  private reduced(b: Batch): { pos: Tensor; neg: Tensor } {
    const { pos, neg, t } = this.terms(b);
    return {
      pos: reduce(pos, this.reducer, b.x, {
        kind: 'posPair',
        indices: [t.a1, t.p],
        labels: b.labels,
        part: 'pos_loss',
      }),
      neg: reduce(neg, this.reducer, b.x, {
        kind: 'negPair',
        indices: [t.a2, t.n],
        labels: b.labels,
        part: 'neg_loss',
      }),
    };
  }
  protected compute(b: Batch): Tensor {
    if (isNoReduction(this.reducer)) {
      const { pos, neg } = this.terms(b);
      return cat([pos, neg]);
    }
    const { pos, neg } = this.reduced(b);
    return pos.add(neg);
  }
  protected override computeSplit(b: Batch): LossSplit {
    if (isNoReduction(this.reducer)) throw new RangeError(`${this.name}: split() needs a reducing reducer`);
    const { pos, neg } = this.reduced(b);
    return { tightness: pos, contrastive: neg };
  }
}

export const contrastiveSpec = defineLoss({
  name: 'contrastive',
  create: (o: ContrastiveOptions) => new ContrastiveLoss(o),
});
