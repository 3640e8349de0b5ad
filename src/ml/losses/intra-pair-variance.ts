// Intra-pair variance loss (Kim et al., "Deep Metric Learning Beyond Binary Supervision", CVPR
// 2019), as pytorch-metric-learning's IntraPairVarianceLoss: meant to be added to another loss.
import { type Tensor, cat } from '../../engine/index.js';
import { MetricLoss, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { indexTensor, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface IntraPairVarianceOptions {
  /** ε⁺ (default 0.01). */
  posEps?: number;
  /** ε⁻ (default 0.01). */
  negEps?: number;
  /** Default: cosine similarity. */
  distance?: Distance | DistanceSpec;
  /** Applied to the positive and the negative terms separately (default 'mean'). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * With μ⁺, μ⁻ the mean similarity of the positive and of the negative pairs:
 *   ℓ⁺_ap = [(1 - ε⁺) μ⁺ - s_ap]₊²,   ℓ⁻_an = [s_an - (1 + ε⁻) μ⁻]₊²
 *   L = R(ℓ⁺) + R(ℓ⁻)
 * so pairs that stray below (above) their group's mean are pulled back: the spread of each group
 * shrinks, not its level. For a distance the directions flip: ℓ⁺ = [d_ap - (1 + ε⁺) μ⁺]₊²,
 * ℓ⁻ = [(1 - ε⁻) μ⁻ - d_an]₊². The means keep their gradient.
 */
export class IntraPairVarianceLoss extends MetricLoss {
  readonly name = 'IntraPairVarianceLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly posEps: number;
  readonly negEps: number;
  readonly distance: Distance;
  readonly reducer: ReducerName;
  constructor(o: IntraPairVarianceOptions = {}) {
    super();
    this.posEps = o.posEps ?? 0.01;
    this.negEps = o.negEps ?? 0.01;
    finiteNumber(this.name, 'posEps', this.posEps);
    finiteNumber(this.name, 'negEps', this.negEps);
    this.distance = makeDistance(o.distance, { name: 'cosine' });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  /** [below (1 - ε) mean]₊² when `increase` (the group should not fall below), else [above (1 + ε) mean]₊². */
  private spread(v: Tensor, eps: number, increase: boolean): Tensor {
    const mean = v.mean();
    const d = increase ? mean.mul(1 - eps).sub(v) : v.sub(mean.mul(1 + eps));
    return d.relu().square();
  }
  private terms(b: Batch): { pos: Tensor; neg: Tensor } {
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    const sim = this.distance.isSimilarity;
    const terms = (a: readonly number[], o: readonly number[], eps: number, increase: boolean): Tensor => {
      const v = mat.index([indexTensor(a, b.device), indexTensor(o, b.device)]);
      return a.length === 0 ? v : this.spread(v, eps, increase);
    };
    return { pos: terms(t.a1, t.p, this.posEps, sim), neg: terms(t.a2, t.n, this.negEps, !sim) };
  }
  protected compute(b: Batch): Tensor {
    const { pos, neg } = this.terms(b);
    if (this.reducer === 'none') return cat([pos, neg]);
    return reduce(pos, this.reducer, b.x).add(reduce(neg, this.reducer, b.x));
  }
  /** Tightness: the positive pairs' term; contrastive: the negative pairs'. */
  protected override computeSplit(b: Batch): LossSplit {
    if (this.reducer === 'none') throw new RangeError(`${this.name}: split() needs a reducing reducer`);
    const { pos, neg } = this.terms(b);
    return { tightness: reduce(pos, this.reducer, b.x), contrastive: reduce(neg, this.reducer, b.x) };
  }
}

export const intraPairVarianceSpec = defineLoss({
  name: 'intra-pair-variance',
  create: (o: IntraPairVarianceOptions) => new IntraPairVarianceLoss(o),
});
