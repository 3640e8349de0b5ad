// Instance loss (Zheng et al., "Dual-Path Convolutional Image-Text Embeddings with Instance Loss",
// ACM TOMM 2020), in pytorch-metric-learning's batch form (InstanceLoss).
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type Batch } from './shared/base.js';
import { perSampleCrossEntropy } from './shared/softmax.js';
import { CosineSimilarity } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { distinct } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface InstanceOptions {
  /** γ, the scale of the cosines (default 64). */
  gamma?: number;
  /** Over samples (default 'mean'). */
  reducer?: ReducerName;
}

/**
 * Cross-entropy of each row of γ · cos(x_i, x_j) (the batch's similarity matrix as logits) against
 * a target column: pytorch-metric-learning's rule, which takes the rank of the sample's label
 * among the batch's distinct labels as that column (with one sample per instance, labels 0..n-1
 * in order, this is the sample itself: the paper's each-image-is-a-class setting).
 */
export class InstanceLoss extends MetricLoss {
  readonly name = 'InstanceLoss';
  readonly pairwise = true;
  override readonly usesTuples: boolean = false;
  protected override readonly noTuplesReason = 'it scores every sample against the whole batch';
  readonly gamma: number;
  readonly reducer: ReducerName;
  readonly distance = new CosineSimilarity();
  constructor(o: InstanceOptions = {}) {
    super();
    this.gamma = o.gamma ?? 64;
    finiteNumber(this.name, 'gamma', this.gamma, { min: 0, open: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
  }
  protected compute(b: Batch): Tensor {
    const rank = new Map(distinct(b.labels).map((y, k) => [y, k]));
    const target = b.labels.map((y) => rank.get(y)!);
    const logits = this.distance.matrix(b.x).mul(this.gamma);
    return reduce(perSampleCrossEntropy(logits, target), this.reducer, b.x);
  }
}

export const instanceSpec = defineLoss({
  name: 'instance',
  create: (o: InstanceOptions) => new InstanceLoss(o),
});
