// Smooth-AP (Brown et al., "Smooth-AP: Smoothing the Path Towards Large-Scale Image Retrieval",
// ECCV 2020), as pytorch-metric-learning's SmoothAPLoss.
import { type Tensor, eye } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { labelMask, minerWeights } from './shared/pairs.js';
import { CosineSimilarity } from '../distances/index.js';
import { checkReducer, reduce, type ReducerName } from '../reducers/index.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface SmoothAPOptions {
  /** τ of the sigmoid that stands for the rank's step function (default 0.01). */
  temperature?: number;
  /** Over samples (default 'mean'). */
  reducer?: ReducerName;
  /** Its tuples only weigh the samples (how often each occurs). */
  miner?: Miner;
}

/**
 * Each sample i ranks the batch by cosine similarity; with σ_τ(x) = sigmoid(x/τ) as a smooth
 * "ranked above", P_i the samples of i's class (i itself included, as in the authors' code) and
 *   R(j) = 1 + Σ_{k≠j} σ_τ(s_ik - s_ij),   R⁺(j) = 1 + Σ_{k∈P_i, k≠j} σ_τ(s_ik - s_ij)
 * the smooth rank of j among all samples and among the positives,
 *   AP_i = 1/|P_i| Σ_{j∈P_i} R⁺(j) / R(j),   ℓ_i = 1 - AP_i (times the miner's weight of i).
 * pytorch-metric-learning reshapes the batch into n / #classes blocks of #classes rows and takes
 * each block for a class, so it is right only when the classes come in contiguous blocks and there
 * are as many classes as samples per class (unequal classes are an error there, other equal ones a
 * different number); here any batch works, and those batches give its value. O(n³) memory in the
 * batch size.
 */
export class SmoothAPLoss extends MetricLoss {
  readonly name = 'SmoothAPLoss';
  readonly pairwise = true;
  readonly temperature: number;
  readonly reducer: ReducerName;
  readonly distance = new CosineSimilarity();
  constructor(o: SmoothAPOptions = {}) {
    super();
    this.temperature = o.temperature ?? 0.01;
    finiteNumber(this.name, 'temperature', this.temperature, { min: 0, open: true });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  protected compute(b: Batch): Tensor {
    const n = b.labels.length,
      dt = b.x.dtype;
    const s = this.distance.matrix(b.x);
    // above[i, j, k] = σ((s_ik - s_ij) / τ): k ranked above j by anchor i.
    const above = s.unsqueeze(1).sub(s.unsqueeze(2)).div(this.temperature).sigmoid();
    const notSelf = eye(n, n, { dtype: 'bool', device: b.device }).logicalNot().to(dt); // k ≠ j
    const all = above.mul(notSelf.unsqueeze(0)).sum(2).add(1); // [i, j]
    const same = labelMask(b.labels, b.labels, true, b.device).to(dt); // [i, k], i itself included
    const pos = above.mul(notSelf.unsqueeze(0)).mul(same.unsqueeze(1)).sum(2).add(1);
    const ap = pos.div(all).mul(same).sum(1).div(same.sum(1));
    const w = minerWeights(b.tuples, n, false, b.x);
    return reduce(ap.rsub(1).mul(w), this.reducer, b.x);
  }
}

export const smoothAPSpec = defineLoss({
  name: 'smooth-ap',
  create: (o: SmoothAPOptions) => new SmoothAPLoss(o),
});
