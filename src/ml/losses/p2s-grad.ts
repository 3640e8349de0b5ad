// P2SGrad (Zhang et al., "P2SGrad: Refined Gradients for Optimizing Deep Face Models", CVPR 2019),
// as pytorch-metric-learning's P2SGradLoss.
import { type Tensor, noGrad, normalize } from '../../engine/index.js';
import type { Batch } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { oneHotFloat } from './shared/softmax.js';
import { defineLoss } from './shared/spec.js';

export type P2SGradOptions = ClassTableOptions;

/**
 * The paper's gradient (Eq. 11) is that of a mean squared error between the cosines and the
 * one-hot targets, so that is the loss:
 *   L = 1/(nC) Σ_i Σ_k (cos θ_ik - [k = y_i])²,   cos θ_ik = clamp(x_iᵀ w_k / |x_i|, -1, 1)
 * with the class weights renormalised to unit length in place at every call (no gradient goes
 * through the renormalisation: the gradient is that of the unit weights, as in the paper).
 * Parameter: `weight` [numClasses, embeddingSize] (pytorch-metric-learning's is its transpose).
 */
export class P2SGradLoss extends ClassTableLoss {
  readonly name = 'P2SGradLoss';
  constructor(o: P2SGradOptions) {
    super('P2SGradLoss', 'weight', o);
  }
  protected compute(b: Batch): Tensor {
    noGrad(() => {
      const unit = normalize(this.table);
      this.table.copy_(unit);
      unit.dispose();
    });
    const cos = normalize(b.x).matmul(this.table.t()).clamp(-1, 1);
    return cos
      .sub(oneHotFloat(b.labels, this.numClasses, cos))
      .square()
      .mean();
  }
}

export const p2sGradSpec = defineLoss({
  name: 'p2s-grad',
  create: (o: P2SGradOptions) => new P2SGradLoss(o),
  classTable: true,
});
