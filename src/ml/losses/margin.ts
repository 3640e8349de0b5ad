// Margin loss (Wu, Manmatha, Smola & Krähenbühl, "Sampling matters in deep embedding learning", ICCV 2017).
import { type Tensor, full } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { splitReduce } from '../reducers/index.js';
import { indexTensor, toPairs } from '../utils/tuples.js';
import { checkClassRange, checkFinite, checkSameDtype, finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface MarginLossOptions extends EmbeddingRegularizerOptions {
  /** α, the half-width of the band around β (default 0.2). */
  margin?: number;
  /** Initial β, the distance boundary between positives and negatives (default 1.2). */
  beta?: number;
  /** β is a trained parameter (default true); otherwise a buffer. */
  learnBeta?: boolean;
  /** One β per class (indexed by the anchor's label) instead of one for all. */
  numClasses?: number;
  /** ν, weight of the ν·Σβ regulariser (default 0). */
  nu?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /** Default none: all pairs. Wu et al. pair it with distance-weighted negative sampling. */
  miner?: Miner;
}

/**
 * Over ordered pairs (i, j), i ≠ j, with β_i = β (or β_{y_i}):
 *   positive: ℓ⁺_ij = relu(D_ij - β_i + α)      negative: ℓ⁻_ij = relu(β_i - D_ij + α)
 *   L = (Σ ℓ⁺ + Σ ℓ⁻) / #{terms > 0} + ν Σ_k β_k     (0 / 0 := 0)
 * Positives are pulled inside β - α, negatives pushed beyond β + α, and β is learned with the
 * model. Parameter (or buffer): `beta` [1] or [numClasses].
 * split(): tightness Σ ℓ⁺ / #, contrastive Σ ℓ⁻ / #, other ν Σ β.
 */
export class MarginLoss extends MetricLoss {
  readonly name = 'MarginLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly margin: number;
  readonly nu: number;
  readonly numClasses: number | undefined;
  readonly distance: Distance;
  constructor(o: MarginLossOptions = {}) {
    super(o);
    this.margin = o.margin ?? 0.2;
    this.nu = o.nu ?? 0;
    const beta = o.beta ?? 1.2;
    finiteNumber(this.name, 'margin', this.margin);
    finiteNumber(this.name, 'nu', this.nu);
    finiteNumber(this.name, 'beta', beta);
    if (o.numClasses !== undefined) positiveInteger(this.name, 'numClasses', o.numClasses);
    this.numClasses = o.numClasses;
    const t = full([o.numClasses ?? 1], beta, 'float32');
    if (o.learnBeta ?? true) this.registerParameter('beta', t);
    else this.registerBuffer('beta', t);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.miner = o.miner;
  }
  get beta(): Tensor {
    return this.param('beta') ?? this.buffer('beta')!;
  }
  protected override checkParameters(x: Tensor, labels: readonly number[]): void {
    checkSameDtype(this.name, x, this.beta, 'beta');
    checkFinite(this.name, this.beta, 'beta');
    if (this.numClasses !== undefined) checkClassRange(this.name, labels, this.numClasses);
  }
  private parts(b: Batch): LossSplit {
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    const betaOf = (anchors: readonly number[]): Tensor =>
      this.numClasses === undefined
        ? this.beta.expand([anchors.length])
        : this.beta.indexSelect(
            0,
            indexTensor(
              anchors.map((a) => b.labels[a]!),
              b.device,
            ),
          );
    const a1 = indexTensor(t.a1, b.device),
      a2 = indexTensor(t.a2, b.device);
    const pos = this.distance
      .margin(mat.index([a1, indexTensor(t.p, b.device)]), betaOf(t.a1))
      .add(this.margin)
      .relu();
    const neg = this.distance
      .margin(betaOf(t.a2), mat.index([a2, indexTensor(t.n, b.device)]))
      .add(this.margin)
      .relu();
    const posOn = pos.gt(0),
      negOn = neg.gt(0);
    const [tightness, contrastive] = splitReduce(
      [pos, neg],
      [posOn, negOn],
      [posOn, negOn],
      pos.numel() + neg.numel(),
      'avgNonZero',
      b.x,
    );
    return { tightness: tightness!, contrastive: contrastive!, other: this.beta.sum().mul(this.nu) };
  }
  protected compute(b: Batch): Tensor {
    const { tightness, contrastive, other } = this.parts(b);
    return tightness.add(contrastive).add(other!);
  }
  protected override computeSplit(b: Batch): LossSplit {
    return this.parts(b);
  }
}

export const marginSpec = defineLoss({
  name: 'margin',
  create: (o: MarginLossOptions) => new MarginLoss(o),
});
