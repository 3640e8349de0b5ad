// NT-Xent / InfoNCE (Chen et al., SimCLR 2020; van den Oord et al. 2018) with labels: every
// same-label pair is a positive, every different-label sample a negative (pytorch-metric-learning's NTXentLoss).
import { type Tensor, stack, onesLike } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { maskedLogSumExp } from './shared/math.js';
import { checkReducer, reduce, zeroLoss, type ReducerLike, type ReductionInfo } from '../reducers/index.js';
import { indexTensor, maskFrom, toPairs } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface NTXentOptions extends EmbeddingRegularizerOptions {
  /** τ (default 0.07). */
  temperature?: number;
  /** Default: cosine similarity. */
  distance?: Distance | DistanceSpec;
  /** Over ordered positive pairs (default 'mean'). */
  reducer?: ReducerLike;
  miner?: Miner;
}

/**
 * For each ordered positive pair (a, p), with s = similarity / τ (a distance is negated):
 *   ℓ_ap = -log( exp(s_ap) / (exp(s_ap) + Σ_{n∈N_a} exp(s_an)) )
 * mean over positive pairs. Other positives of a are not in the denominator. A batch with no
 * positive or no negative pair gives 0. split(): tightness -s_ap, contrastive
 * log(exp s_ap + Σ_n exp s_an).
 */
export class NTXentLoss extends MetricLoss {
  readonly name: string = 'NTXentLoss';
  readonly pairwise = true;
  override readonly supportsRef = true;
  readonly temperature: number;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  constructor(o: NTXentOptions = {}) {
    super(o);
    this.temperature = o.temperature ?? 0.07;
    finiteNumber('NTXentLoss', 'temperature', this.temperature, { min: 0, open: true });
    this.distance = makeDistance(o.distance, { name: 'cosine' });
    this.reducer = checkReducer('NTXentLoss', o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  private parts(b: Batch): { tight: Tensor; contr: Tensor; info: ReductionInfo } | null {
    const n = b.labels.length;
    const t = toPairs(b.tuples, b.labels, b.refLabels);
    if (t.a1.length === 0 || t.a2.length === 0) return null;
    const m = this.distance.matrix(b.x, b.refX).div(this.temperature);
    const s = this.distance.isSimilarity ? m : m.neg();
    const negMask = maskFrom(t.a2, t.n, n, b.refLabels?.length ?? n, b.device);
    const negLse = maskedLogSumExp(s, negMask, false);
    const rowAny = negMask.any(1);
    const a1 = indexTensor(t.a1, b.device);
    const sap = s.index([a1, indexTensor(t.p, b.device)]);
    const all = maskedLogSumExp(
      stack([sap, negLse.indexSelect(0, a1)], 1),
      stack([onesLike(sap).bool(), rowAny.indexSelect(0, a1)], 1),
      false,
    );
    return { tight: sap.neg(), contr: all, info: { kind: 'posPair', indices: [t.a1, t.p], labels: b.labels } };
  }
  protected compute(b: Batch): Tensor {
    const p = this.parts(b);
    if (p === null) return zeroLoss(b.x);
    return reduce(p.contr.add(p.tight), this.reducer, b.x, p.info);
  }
  protected override computeSplit(b: Batch): LossSplit {
    if (this.reducer !== 'mean' && this.reducer !== 'sum')
      throw new RangeError(`${this.name}: split() needs reducer 'mean' or 'sum'`);
    const p = this.parts(b);
    if (p === null) return { tightness: zeroLoss(b.x), contrastive: zeroLoss(b.x) };
    return { tightness: reduce(p.tight, this.reducer, b.x), contrastive: reduce(p.contr, this.reducer, b.x) };
  }
}

/** InfoNCE: the same loss under its other name. */
export class InfoNCELoss extends NTXentLoss {
  override readonly name: string = 'InfoNCELoss';
}

export const ntXentSpec = defineLoss({
  name: 'nt-xent',
  create: (o: NTXentOptions) => new NTXentLoss(o),
  aliases: [{ name: 'infonce', create: (o: NTXentOptions) => new InfoNCELoss(o) }],
});
