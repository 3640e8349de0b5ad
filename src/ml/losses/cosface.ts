// CosFace / large-margin cosine loss (Wang et al., CVPR 2018).
import type { Tensor } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import {
  ceSplit,
  checkClassifierReducer,
  oneHotFloat,
  perSampleCrossEntropy,
  type ClassifierReducer,
} from './shared/softmax.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface CosFaceOptions extends ClassTableOptions {
  /** m, subtracted from the true-class cosine (default 0.35). */
  margin?: number;
  /** s, the logit scale (default 64). */
  scale?: number;
  reduction?: ClassifierReducer;
}

/**
 * s_ik = s · (cos(x_i, w_k) - m·[k = y_i]) with x and w L2-normalised; ℓ_i = CE(s_i, y_i), mean.
 * The additive cosine margin makes the true class win only by at least m in cosine.
 * Parameter: `weight` [numClasses, embeddingSize].
 */
export class CosFaceLoss extends ClassTableLoss {
  readonly name = 'CosFaceLoss';
  readonly margin: number;
  readonly scale: number;
  readonly reduction: ClassifierReducer;
  constructor(o: CosFaceOptions) {
    super('CosFaceLoss', 'weight', o);
    this.margin = o.margin ?? 0.35;
    this.scale = o.scale ?? 64;
    finiteNumber(this.name, 'margin', this.margin);
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  logits(x: Tensor, labels: readonly number[]): Tensor {
    const cos = this.cosines(x);
    return cos.sub(oneHotFloat(labels, this.numClasses, cos).mul(this.margin)).mul(this.scale);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x, b.labels), b.labels), this.reduction, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x, b.labels), b.labels, this.reduction);
  }
}

export const cosFaceSpec = defineLoss({
  name: 'cosface',
  create: (o: CosFaceOptions) => new CosFaceLoss(o),
  classTable: true,
});
