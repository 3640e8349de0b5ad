// Supervised contrastive loss (Khosla et al., NeurIPS 2020), as pytorch-metric-learning's SupConLoss.
import { type Tensor, where } from '../../engine/index.js';
import { MetricLoss, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { maskedLogSumExp } from './shared/math.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, splitReduce, zeroLoss, type ReducerName } from '../reducers/index.js';
import { maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface SupConOptions {
  /** τ (default 0.1). */
  temperature?: number;
  /** Default: cosine similarity (a distance is negated). */
  distance?: Distance | DistanceSpec;
  /** Over anchors (default 'avgNonZero': anchors without positives do not count). */
  reducer?: ReducerName;
  miner?: Miner;
}

/**
 * With s = similarity / τ, for each anchor i with positives P_i and negatives N_i:
 *   ℓ_i = -1/|P_i| Σ_{p∈P_i} ( s_ip - log Σ_{k∈P_i∪N_i} exp(s_ik) )
 * (the "L_out" form: the mean over positives is outside the log). Unlike NT-Xent, all of an
 * anchor's positives share one denominator. Anchors without positives give 0; a batch with no
 * positive or no negative pair at all gives 0. split(): tightness -mean_p s_ip, contrastive the log-sum.
 */
export class SupConLoss extends MetricLoss {
  readonly name = 'SupConLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly temperature: number;
  readonly distance: Distance;
  readonly reducer: ReducerName;
  constructor(o: SupConOptions = {}) {
    super();
    this.temperature = o.temperature ?? 0.1;
    finiteNumber(this.name, 'temperature', this.temperature, { min: 0, open: true });
    this.distance = makeDistance(o.distance, { name: 'cosine' });
    this.reducer = checkReducer(this.name, o.reducer ?? 'avgNonZero');
    this.miner = o.miner;
  }
  /** Per anchor: -mean_p s_ip (tightness) and the log-sum over its positives and negatives (contrastive). */
  private parts(b: Batch): { tight: Tensor; contr: Tensor; hasPos: Tensor } | null {
    const n = b.labels.length,
      cols = b.refLabels?.length ?? n;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    if (t.a1.length === 0 || t.a2.length === 0) return null;
    const m = this.distance.matrix(b.x, b.refX).div(this.temperature);
    const s = this.distance.isSimilarity ? m : m.neg();
    const pos = maskFrom(t.a1, t.p, n, cols, b.device);
    const neg = maskFrom(t.a2, t.n, n, cols, b.device);
    const hasPos = pos.any(1);
    const count = pos.sum(1, false, s.dtype).clampMin(1);
    const tight = where(pos, s, 0).sum(1).div(count).neg();
    const contr = where(hasPos, maskedLogSumExp(s, pos.logicalOr(neg), false), 0);
    return { tight, contr, hasPos };
  }
  protected compute(b: Batch): Tensor {
    const p = this.parts(b);
    if (p === null) return zeroLoss(b.x);
    return reduce(p.tight.add(p.contr), this.reducer, b.x);
  }
  protected override computeSplit(b: Batch): LossSplit {
    const p = this.parts(b);
    if (p === null) return { tightness: zeroLoss(b.x), contrastive: zeroLoss(b.x) };
    const total = p.tight.add(p.contr);
    const [tightness, contrastive] = splitReduce(
      [p.tight, p.contr],
      [p.hasPos, p.hasPos],
      [total.gt(0)],
      total.numel(),
      this.reducer,
      b.x,
    );
    return { tightness: tightness!, contrastive: contrastive! };
  }
}

export const supConSpec = defineLoss({
  name: 'supcon',
  create: (o: SupConOptions) => new SupConLoss(o),
});
