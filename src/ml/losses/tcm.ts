// Threshold-consistent margin loss (Zhang et al., "Threshold-Consistent Margin Loss for Open-World
// Deep Metric Learning", ICLR 2024), as pytorch-metric-learning's ThresholdConsistentMarginLoss.
// A regulariser: the paper adds it to a base loss (see MultipleLosses).
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { CosineSimilarity } from '../distances/index.js';
import { zeroLoss } from '../reducers/index.js';
import { indexTensor, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ThresholdConsistentMarginOptions {
  /** λ⁺, the weight of the positive part (default 1). */
  lambdaPlus?: number;
  /** λ⁻ (default 1). */
  lambdaMinus?: number;
  /** m⁺: positive pairs less similar than this are penalised (default 0.9). */
  marginPlus?: number;
  /** m⁻: negative pairs more similar than this are penalised (default 0.5). */
  marginMinus?: number;
  miner?: Miner;
}

/**
 * With cosine similarities s:
 *   L = λ⁺ · mean_{(a,p): s_ap ≤ m⁺} (m⁺ - s_ap)  +  λ⁻ · mean_{(a,n): s_an ≥ m⁻} (s_an - m⁻)
 * each mean over the pairs on the wrong side of their margin (0 when there are none), so that one
 * similarity threshold separates positives from negatives alike across classes.
 */
export class ThresholdConsistentMarginLoss extends MetricLoss {
  readonly name = 'ThresholdConsistentMarginLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly lambdaPlus: number;
  readonly lambdaMinus: number;
  readonly marginPlus: number;
  readonly marginMinus: number;
  readonly distance = new CosineSimilarity();
  constructor(o: ThresholdConsistentMarginOptions = {}) {
    super();
    this.lambdaPlus = o.lambdaPlus ?? 1;
    this.lambdaMinus = o.lambdaMinus ?? 1;
    this.marginPlus = o.marginPlus ?? 0.9;
    this.marginMinus = o.marginMinus ?? 0.5;
    finiteNumber(this.name, 'lambdaPlus', this.lambdaPlus);
    finiteNumber(this.name, 'lambdaMinus', this.lambdaMinus);
    finiteNumber(this.name, 'marginPlus', this.marginPlus);
    finiteNumber(this.name, 'marginMinus', this.marginMinus);
    this.miner = o.miner;
  }
  /** Mean of the violations v (v ≥ 0 counts), 0 when none; the count is a constant. */
  private meanViolation(s: Tensor, violation: Tensor): Tensor {
    const on = violation.ge(0);
    const count = on.sum(undefined, false, s.dtype).clampMin(1);
    return violation.mul(on.to(s.dtype)).sum().div(count);
  }
  /** Tightness: the positive part (λ⁺ ...); contrastive: the negative part (λ⁻ ...). */
  protected override computeSplit(b: Batch): LossSplit {
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    const mat = this.distance.matrix(b.x, b.refX);
    let tightness = zeroLoss(b.x),
      contrastive = zeroLoss(b.x);
    if (t.a1.length > 0) {
      const s = mat.index([indexTensor(t.a1, b.device), indexTensor(t.p, b.device)]);
      tightness = tightness.add(this.meanViolation(s, s.rsub(this.marginPlus)).mul(this.lambdaPlus));
    }
    if (t.a2.length > 0) {
      const s = mat.index([indexTensor(t.a2, b.device), indexTensor(t.n, b.device)]);
      contrastive = contrastive.add(this.meanViolation(s, s.sub(this.marginMinus)).mul(this.lambdaMinus));
    }
    return { tightness, contrastive };
  }
  protected compute(b: Batch): Tensor {
    const { tightness, contrastive } = this.computeSplit(b);
    return tightness.add(contrastive);
  }
}

export const thresholdConsistentMarginSpec = defineLoss({
  name: 'tcm',
  create: (o: ThresholdConsistentMarginOptions) => new ThresholdConsistentMarginLoss(o),
});
