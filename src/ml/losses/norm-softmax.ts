// NormSoftmax (Zhai & Wu, "Classification is a strong baseline for deep metric learning", BMVC 2019).
import type { Tensor } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import { ceSplit, checkClassifierReducer, perSampleCrossEntropy, type ClassifierReducer } from './shared/softmax.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface NormSoftmaxOptions extends ClassTableOptions {
  /** T: logits are cosines divided by T (default 0.05). */
  temperature?: number;
  reduction?: ClassifierReducer;
}

/**
 * Cross-entropy on cosine logits: s_ik = cos(x_i, w_k) / T with both x_i and the class weight w_k
 * L2-normalised, ℓ_i = log Σ_k exp s_ik - s_{i,y_i}, mean over the batch. Normalising removes the
 * norm as a shortcut to confidence, so the angle, which retrieval uses, carries the class.
 * Parameter: `weight` [numClasses, embeddingSize].
 */
export class NormSoftmaxLoss extends ClassTableLoss {
  readonly name = 'NormSoftmaxLoss';
  readonly temperature: number;
  readonly reduction: ClassifierReducer;
  constructor(o: NormSoftmaxOptions) {
    super('NormSoftmaxLoss', 'weight', o);
    this.temperature = o.temperature ?? 0.05;
    finiteNumber(this.name, 'temperature', this.temperature, { min: 0, open: true });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  logits(x: Tensor): Tensor {
    return this.cosines(x).div(this.temperature);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x), b.labels), this.reduction, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x), b.labels, this.reduction);
  }
}

export const normSoftmaxSpec = defineLoss({
  name: 'norm-softmax',
  create: (o: NormSoftmaxOptions) => new NormSoftmaxLoss(o),
  classTable: true,
});
