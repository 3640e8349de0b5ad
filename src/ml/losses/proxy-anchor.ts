// Proxy-Anchor (Kim et al., CVPR 2020).
import { type Tensor } from '../../engine/index.js';
import type { Batch, LossSplit } from './shared/base.js';
import { ClassTableLoss, type ClassTableOptions } from './shared/class-table.js';
import { maskedLogSumExp } from './shared/math.js';
import { distinct, maskFrom } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface ProxyAnchorOptions extends ClassTableOptions {
  /** δ (default 0.1). */
  margin?: number;
  /** α (default 32). */
  alpha?: number;
}

/**
 * Each proxy is an anchor over the whole batch. With s_ik = cos(x_i, p_k), P⁺ the classes present
 * in the batch, X⁺_k / X⁻_k the samples of / not of class k:
 *   ℓ = 1/|P⁺| Σ_{k∈P⁺} log(1 + Σ_{i∈X⁺_k} exp(-α(s_ik - δ)))      (tightness)
 *     + 1/C    Σ_k      log(1 + Σ_{i∈X⁻_k} exp( α(s_ik + δ)))      (contrastive)
 * Parameter: `proxies` [numClasses, embeddingSize].
 */
export class ProxyAnchorLoss extends ClassTableLoss {
  readonly name = 'ProxyAnchorLoss';
  readonly margin: number;
  readonly alpha: number;
  constructor(o: ProxyAnchorOptions) {
    super('ProxyAnchorLoss', 'proxies', o);
    this.margin = o.margin ?? 0.1;
    this.alpha = o.alpha ?? 32;
    finiteNumber(this.name, 'margin', this.margin);
    finiteNumber(this.name, 'alpha', this.alpha, { min: 0, open: true });
  }
  private parts(b: Batch): LossSplit {
    const n = b.labels.length,
      c = this.numClasses;
    const cosT = this.cosines(b.x).t(); // [C, n]
    const pos = maskFrom(
      b.labels,
      b.labels.map((_, i) => i),
      c,
      n,
      b.device,
    );
    const neg = pos.logicalNot();
    const posTerm = maskedLogSumExp(cosT.sub(this.margin).mul(-this.alpha), pos, true);
    const negTerm = maskedLogSumExp(cosT.add(this.margin).mul(this.alpha), neg, true);
    return { tightness: posTerm.sum().div(distinct(b.labels).length), contrastive: negTerm.sum().div(c) };
  }
  protected compute(b: Batch): Tensor {
    const { tightness, contrastive } = this.parts(b);
    return tightness.add(contrastive);
  }
  protected override computeSplit(b: Batch): LossSplit {
    return this.parts(b);
  }
}

export const proxyAnchorSpec = defineLoss({
  name: 'proxy-anchor',
  create: (o: ProxyAnchorOptions) => new ProxyAnchorLoss(o),
  classTable: true,
});
