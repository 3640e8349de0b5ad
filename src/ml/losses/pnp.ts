// PNP loss (Li et al., "Rethinking the Optimization of Average Precision: Only Penalizing Negative
// Instances before Positive Ones is Enough", AAAI 2022), as pytorch-metric-learning's PNPLoss.
import { type Tensor } from '../../engine/index.js';
import { MetricLoss, type Batch } from './shared/base.js';
import { labelMask } from './shared/pairs.js';
import { CosineSimilarity } from '../distances/index.js';
import { zeroLoss } from '../reducers/index.js';
import { indexTensor } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export const PNP_VARIANTS = ['Ds', 'Dq', 'Iu', 'Ib', 'O'] as const;
export type PnpVariant = (typeof PNP_VARIANTS)[number];

export interface PNPOptions {
  /** The paper's variant (default 'O'): how the count of negatives ranked above a positive is weighed. */
  variant?: PnpVariant;
  /** b of PNP-Ib (default 2). */
  b?: number;
  /** α of PNP-Dq (default 1). */
  alpha?: number;
  /** Temperature of the sigmoid that makes "ranked above" differentiable (default 0.01). */
  anneal?: number;
}

/**
 * For each anchor i that has a positive, and each of its positives j (i itself included, as in the
 * authors' code), the soft number of negatives ranked above j:
 *   R_ij = Σ_{k ∈ N_i} σ((s_ik - s_ij) / anneal)
 * (the sigmoid's argument clamped to ±50), transformed by the variant:
 *   O: R,  Ds: log(1 + R),  Dq: 1/(1 + R)^α,  Iu: (1 + R) log(1 + R),  Ib: (bR - log(1 + bR)) / b²
 * and ℓ = mean_i mean_{j∈P_i} of it (for Dq, 1 minus that); no anchor with a positive gives 0.
 * The clamped sigmoid is computed as σ(-clamp(-x)) rather than 1 / (1 + exp(...)), which
 * overflows to inf/inf in half precision.
 * O(n³) memory in the batch size.
 */
export class PNPLoss extends MetricLoss {
  readonly name = 'PNPLoss';
  readonly pairwise = true;
  override readonly usesTuples: boolean = false;
  protected override readonly noTuplesReason = 'it ranks every pair of the batch';
  readonly variant: PnpVariant;
  readonly b: number;
  readonly alpha: number;
  readonly anneal: number;
  readonly distance = new CosineSimilarity();
  constructor(o: PNPOptions = {}) {
    super();
    this.variant = o.variant ?? 'O';
    if (!PNP_VARIANTS.includes(this.variant))
      throw new RangeError(`${this.name}: variant must be one of ${PNP_VARIANTS.join(' | ')}, got '${this.variant}'`);
    this.b = o.b ?? 2;
    this.alpha = o.alpha ?? 1;
    this.anneal = o.anneal ?? 0.01;
    finiteNumber(this.name, 'b', this.b, { min: 0, open: true });
    finiteNumber(this.name, 'alpha', this.alpha);
    finiteNumber(this.name, 'anneal', this.anneal, { min: 0, open: true });
  }
  protected compute(batch: Batch): Tensor {
    const dt = batch.x.dtype;
    const y = batch.labels;
    // Anchors with a positive count, and each of them also ranks itself (the authors' code).
    const has = y.map((l, i) => y.some((m, j) => j !== i && m === l));
    if (!has.some(Boolean)) return zeroLoss(batch.x);
    const anchors = indexTensor(
      has.flatMap((h, i) => (h ? [i] : [])),
      batch.device,
    );
    const iPos = labelMask(y, y, true, batch.device).to(dt).indexSelect(0, anchors);
    const iNeg = labelMask(y, y, false, batch.device).to(dt);
    const s = this.distance.matrix(batch.x);
    // diff[i, j, k] = s_ik - s_ij
    const diff = s.unsqueeze(1).sub(s.unsqueeze(2));
    const sg = diff.div(this.anneal).clamp(-50, 50).sigmoid();
    const r = sg.mul(iNeg.unsqueeze(1)).sum(2).indexSelect(0, anchors); // [anchor, j]
    let v: Tensor;
    switch (this.variant) {
      case 'Ds':
        v = r.add(1).log();
        break;
      case 'Dq':
        v = r.add(1).pow(-this.alpha);
        break;
      case 'Iu':
        v = r.add(1).mul(r.add(1).log());
        break;
      case 'Ib':
        v = r
          .mul(this.b)
          .sub(r.mul(this.b).add(1).log())
          .div(this.b ** 2);
        break;
      default:
        v = r;
    }
    const perAnchor = v.mul(iPos).sum(1).div(iPos.sum(1));
    const loss = perAnchor.mean();
    return this.variant === 'Dq' ? loss.rsub(1) : loss;
  }
}

export const pnpSpec = defineLoss({
  name: 'pnp',
  create: (o: PNPOptions) => new PNPLoss(o),
});
