// ArcFace / additive angular margin (Deng et al., CVPR 2019).
import { type Tensor, where } from '../../engine/index.js';
import { SoftmaxTableLoss, type SoftmaxTableOptions } from './shared/softmax-table.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ArcFaceOptions extends SoftmaxTableOptions {
  /** m in radians, added to the true-class angle (default 0.5 ≈ 28.6°). */
  margin?: number;
  /** s, the logit scale (default 64). */
  scale?: number;
}

/**
 * With θ_ik the angle between x_i and w_k (both normalised), the true-class logit becomes
 * s · cos(θ_{i,y_i} + m) while θ + m ≤ π, and s · (cos θ - m·sin m) beyond (keeps the logit
 * decreasing in θ, as in insightface and pytorch-metric-learning); other logits are s · cos θ_ik.
 * ℓ_i = CE, mean. cos(θ + m) is computed as cos θ·cos m - sin θ·sin m with sin θ = √(1 - cos²θ),
 * so, like the acos form, its gradient is unbounded where cos θ = ±1 exactly.
 * Parameter: `weight` [numClasses, embeddingSize]. sampleRate / shard: PartialFC.
 */
export class ArcFaceLoss extends SoftmaxTableLoss {
  readonly name = 'ArcFaceLoss';
  readonly margin: number;
  readonly scale: number;
  constructor(o: ArcFaceOptions) {
    super('ArcFaceLoss', 'weight', o);
    this.margin = o.margin ?? 0.5;
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'margin', this.margin, { min: 0, max: Math.PI });
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
  }
  headLogits(cos: Tensor, targets: readonly number[]): Tensor {
    return arcFaceTargetLogits(cos, targets, this.margin, this.scale);
  }
}

/**
 * ArcFace's logits from the cosines [n, C] and each row's target column: s · cos(θ_{i,t_i} + m)
 * (s · (cos θ - m·sin m) beyond θ = π - m) for the target, s · cos θ elsewhere. A target of -1
 * (the true class is not among the columns: PartialFC, or a prediction) leaves the row's logits
 * plain.
 */
export function arcFaceTargetLogits(cos: Tensor, targets: readonly number[], margin: number, scale: number): Tensor {
  const m = margin;
  const has = indexTensor(
    targets.map((t) => (t >= 0 ? 1 : 0)),
    cos.device,
  ).bool();
  const idx = indexTensor(
    targets.map((t) => Math.max(t, 0)),
    cos.device,
  ).unsqueeze(1);
  const c = cos.gather(1, idx).squeeze(1);
  const sin = c.square().rsub(1).clampMin(0).sqrt();
  const shifted = c.mul(Math.cos(m)).sub(sin.mul(Math.sin(m)));
  const fallback = c.sub(m * Math.sin(m));
  // Rows whose target is not among the columns write their own cosine back: no change.
  const target = where(has, where(c.ge(-Math.cos(m)), shifted, fallback), c);
  return cos.scatter(1, idx, target.unsqueeze(1)).mul(scale);
}

/**
 * ArcFace's training logits from the cosines [n, C] and the labels (each ≥ 0, the true class's
 * column). Shared with sub-centre ArcFace; the same as arcFaceTargetLogits, which also takes -1.
 */
export function arcFaceLogits(cos: Tensor, labels: readonly number[], margin: number, scale: number): Tensor {
  return arcFaceTargetLogits(cos, labels, margin, scale);
}

export const arcFaceSpec = defineLoss({
  name: 'arcface',
  create: (o: ArcFaceOptions) => new ArcFaceLoss(o),
  classTable: true,
});
