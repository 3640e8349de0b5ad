// NormSoftmax (Zhai & Wu, "Classification is a strong baseline for deep metric learning", BMVC 2019).
import type { Tensor } from '../../engine/index.js';
import { SoftmaxTableLoss, type SoftmaxTableOptions } from './shared/softmax-table.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface NormSoftmaxOptions extends SoftmaxTableOptions {
  /** T: logits are cosines divided by T (default 0.05). */
  temperature?: number;
}

/**
 * Cross-entropy on cosine logits: s_ik = cos(x_i, w_k) / T with both x_i and the class weight w_k
 * L2-normalised, ℓ_i = log Σ_k exp s_ik - s_{i,y_i}, mean over the batch. Normalising removes the
 * norm as a shortcut to confidence, so the angle, which retrieval uses, carries the class.
 * Parameter: `weight` [numClasses, embeddingSize]. sampleRate / shard: PartialFC.
 */
export class NormSoftmaxLoss extends SoftmaxTableLoss {
  readonly name = 'NormSoftmaxLoss';
  readonly temperature: number;
  constructor(o: NormSoftmaxOptions) {
    super('NormSoftmaxLoss', 'weight', o);
    this.temperature = o.temperature ?? 0.05;
    finiteNumber(this.name, 'temperature', this.temperature, { min: 0, open: true });
  }
  headLogits(cos: Tensor): Tensor {
    return cos.div(this.temperature);
  }
}

export const normSoftmaxSpec = defineLoss({
  name: 'norm-softmax',
  create: (o: NormSoftmaxOptions) => new NormSoftmaxLoss(o),
  classTable: true,
});
