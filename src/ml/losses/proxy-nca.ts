// ProxyNCA (Movshovitz-Attias et al., ICCV 2017), in the softmax form of pytorch-metric-learning
// and ProxyNCA++ (the positive proxy is in the denominator).
import type { Tensor } from '../../engine/index.js';
import { SoftmaxTableLoss, type SoftmaxTableOptions } from './shared/softmax-table.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ProxyNCAOptions extends SoftmaxTableOptions {
  /** s, multiplies the squared distances before the softmax (default 1). */
  scale?: number;
}

/**
 * One learnable proxy p_k per class. With x̂, p̂ the L2-normalised embedding and proxies and
 * d_ik = ‖x̂_i - p̂_k‖², ℓ_i = -log( exp(-s·d_{i,y_i}) / Σ_k exp(-s·d_ik) ), mean over the batch:
 * NCA with the proxies as the only neighbours, which replaces O(n²) pairs with O(nC) terms.
 * On unit vectors d_ik = 2 - 2 cos(x_i, p_k), which is how it is computed (so PartialFC's sampled
 * and sharded heads apply). split(): tightness s·d_{i,y_i}, contrastive log Σ_k exp(-s·d_ik).
 * Parameter: `proxies` [numClasses, embeddingSize].
 */
export class ProxyNCALoss extends SoftmaxTableLoss {
  readonly name = 'ProxyNCALoss';
  readonly scale: number;
  constructor(o: ProxyNCAOptions) {
    super('ProxyNCALoss', 'proxies', o);
    this.scale = o.scale ?? 1;
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
  }
  headLogits(cos: Tensor): Tensor {
    return cos.sub(1).mul(2 * this.scale);
  }
}

export const proxyNCASpec = defineLoss({
  name: 'proxy-nca',
  create: (o: ProxyNCAOptions) => new ProxyNCALoss(o),
  classTable: true,
});
