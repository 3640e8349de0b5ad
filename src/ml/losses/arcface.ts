// ArcFace / additive angular margin (Deng et al., CVPR 2019).
import { type Tensor, where } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import {
  ceSplit,
  checkClassifierReducer,
  perSampleCrossEntropy,
  targetLogits,
  type ClassifierReducer,
} from './shared/softmax.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ArcFaceOptions extends ClassTableOptions {
  /** m in radians, added to the true-class angle (default 0.5 ≈ 28.6°). */
  margin?: number;
  /** s, the logit scale (default 64). */
  scale?: number;
  reduction?: ClassifierReducer;
}

/**
 * With θ_ik the angle between x_i and w_k (both normalised), the true-class logit becomes
 * s · cos(θ_{i,y_i} + m) while θ + m ≤ π, and s · (cos θ - m·sin m) beyond (keeps the logit
 * decreasing in θ, as in insightface and pytorch-metric-learning); other logits are s · cos θ_ik.
 * ℓ_i = CE, mean. cos(θ + m) is computed as cos θ·cos m - sin θ·sin m with sin θ = √(1 - cos²θ),
 * so, like the acos form, its gradient is unbounded where cos θ = ±1 exactly.
 * Parameter: `weight` [numClasses, embeddingSize].
 */
export class ArcFaceLoss extends ClassTableLoss {
  readonly name = 'ArcFaceLoss';
  readonly margin: number;
  readonly scale: number;
  readonly reduction: ClassifierReducer;
  constructor(o: ArcFaceOptions) {
    super('ArcFaceLoss', 'weight', o);
    this.margin = o.margin ?? 0.5;
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'margin', this.margin, { min: 0, max: Math.PI });
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  logits(x: Tensor, labels: readonly number[]): Tensor {
    const m = this.margin;
    const cos = this.cosines(x);
    const c = targetLogits(cos, labels);
    const sin = c.square().rsub(1).clampMin(0).sqrt();
    const shifted = c.mul(Math.cos(m)).sub(sin.mul(Math.sin(m)));
    const fallback = c.sub(m * Math.sin(m));
    const target = where(c.ge(-Math.cos(m)), shifted, fallback);
    const idx = indexTensor(labels, x.device).unsqueeze(1);
    return cos.scatter(1, idx, target.unsqueeze(1)).mul(this.scale);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x, b.labels), b.labels), this.reduction, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x, b.labels), b.labels, this.reduction);
  }
}

export const arcFaceSpec = defineLoss({
  name: 'arcface',
  create: (o: ArcFaceOptions) => new ArcFaceLoss(o),
  classTable: true,
});
