// ProxyNCA (Movshovitz-Attias et al., ICCV 2017), in the softmax form of pytorch-metric-learning
// and ProxyNCA++ (the positive proxy is in the denominator).
import { type Tensor, cdist, normalize } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { reduce } from '../reducers/index.js';
import { ceSplit, checkClassifierReducer, perSampleCrossEntropy, type ClassifierReducer } from './shared/softmax.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ProxyNCAOptions extends ClassTableOptions {
  /** s, multiplies the squared distances before the softmax (default 1). */
  scale?: number;
  reduction?: ClassifierReducer;
}

/**
 * One learnable proxy p_k per class. With x̂, p̂ the L2-normalised embedding and proxies and
 * d_ik = ‖x̂_i - p̂_k‖², ℓ_i = -log( exp(-s·d_{i,y_i}) / Σ_k exp(-s·d_ik) ), mean over the batch:
 * NCA with the proxies as the only neighbours, which replaces O(n²) pairs with O(nC) terms.
 * split(): tightness s·d_{i,y_i}, contrastive log Σ_k exp(-s·d_ik).
 * Parameter: `proxies` [numClasses, embeddingSize].
 */
export class ProxyNCALoss extends ClassTableLoss {
  readonly name = 'ProxyNCALoss';
  readonly scale: number;
  readonly reduction: ClassifierReducer;
  constructor(o: ProxyNCAOptions) {
    super('ProxyNCALoss', 'proxies', o);
    this.scale = o.scale ?? 1;
    finiteNumber(this.name, 'scale', this.scale, { min: 0, open: true });
    this.reduction = checkClassifierReducer(this.name, o.reduction ?? 'mean');
  }
  logits(x: Tensor): Tensor {
    return cdist(normalize(x), normalize(this.table)).square().mul(-this.scale);
  }
  protected compute(b: Batch): Tensor {
    return reduce(perSampleCrossEntropy(this.logits(b.x), b.labels), this.reduction, b.x, { labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    return ceSplit(this.logits(b.x), b.labels, this.reduction);
  }
}

export const proxyNCASpec = defineLoss({
  name: 'proxy-nca',
  create: (o: ProxyNCAOptions) => new ProxyNCALoss(o),
  classTable: true,
});
