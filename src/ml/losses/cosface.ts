// CosFace / large-margin cosine loss (Wang et al., CVPR 2018).
import type { Tensor } from '../../engine/index.js';
import { SoftmaxTableLoss, type SoftmaxTableOptions } from './shared/softmax-table.js';
import { targetMask } from './shared/softmax.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface CosFaceOptions extends SoftmaxTableOptions {
  /** m, subtracted from the true-class cosine (default 0.35). */
  margin?: number;
  /** s, the logit scale (default 64). */
  scale?: number;
}

/**
 * s_ik = s · (cos(x_i, w_k) - m·[k = y_i]) with x and w L2-normalised; ℓ_i = CE(s_i, y_i), mean.
 * The additive cosine margin makes the true class win only by at least m in cosine.
 * Parameter: `weight` [numClasses, embeddingSize]. sampleRate / shard: PartialFC.
 */
export class CosFaceLoss extends SoftmaxTableLoss {
  readonly name = 'CosFaceLoss';
  readonly margin: number;
  readonly scale: number;
  constructor(o: CosFaceOptions) {
    super('CosFaceLoss', 'weight', o);
    this.margin = o.margin ?? 0.35;
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'margin', this.margin);
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
  }
  headLogits(cos: Tensor, targets: readonly number[]): Tensor {
    return cos.sub(targetMask(targets, cos).mul(this.margin)).mul(this.scale);
  }
}

export const cosFaceSpec = defineLoss({
  name: 'cosface',
  create: (o: CosFaceOptions) => new CosFaceLoss(o),
  classTable: true,
});
