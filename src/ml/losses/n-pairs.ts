// Multi-class N-pair loss (Sohn, NeurIPS 2016).
import type { Tensor } from '../../engine/index.js';
import { MetricLoss, type EmbeddingRegularizerOptions, type Batch, type LossSplit, type Miner } from './shared/base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { checkReducer, reduce, zeroLoss, type ReducerLike } from '../reducers/index.js';
import { ceSplit, perSampleCrossEntropy } from './shared/softmax.js';
import { indexTensor, toPairs } from '../utils/tuples.js';
import { defineLoss } from './shared/spec.js';

export interface NPairsOptions extends EmbeddingRegularizerOptions {
  /** Default: dot product of the raw embeddings (Sohn's fᵀf⁺). */
  distance?: Distance | DistanceSpec;
  /** Over the N pairs (default 'mean'). */
  reducer?: ReducerLike;
  miner?: Miner;
}

/**
 * One (anchor, positive) pair per class: for each label (ascending) the first positive pair in
 * the tuples (with all pairs: its lowest-index sample and the next one). With S_ij = s(a_i, p_j)
 * (a similarity; a distance is negated):
 *   ℓ_i = -log( exp(S_ii) / Σ_j exp(S_ij) ) = log(1 + Σ_{j≠i} exp(S_ij - S_ii))
 * mean over the N pairs: each anchor's own positive against the other classes' positives.
 * Fewer than one pair gives 0. split(): tightness -S_ii, contrastive log Σ_j exp S_ij.
 * Sohn's L2 penalty on the embeddings is not included.
 */
export class NPairsLoss extends MetricLoss {
  readonly name = 'NPairsLoss';
  readonly pairwise = true;
  readonly distance: Distance;
  readonly reducer: ReducerLike;
  constructor(o: NPairsOptions = {}) {
    super(o);
    this.distance = makeDistance(o.distance, { name: 'dot' });
    this.reducer = checkReducer(this.name, o.reducer ?? 'mean');
    this.miner = o.miner;
  }
  /** The chosen (anchor, positive) rows, one per label, by ascending label. */
  static choosePairs(
    labels: readonly number[],
    a1: readonly number[],
    p: readonly number[],
  ): { a: number[]; p: number[] } {
    const first = new Map<number, number>();
    a1.forEach((a, k) => {
      if (!first.has(labels[a]!)) first.set(labels[a]!, k);
    });
    const ks = [...first.entries()].sort((x, y) => x[0] - y[0]).map(([, k]) => k);
    return { a: ks.map((k) => a1[k]!), p: ks.map((k) => p[k]!) };
  }
  private logits(b: Batch): { s: Tensor; targets: number[]; anchors: number[] } | null {
    const t = toPairs(b.tuples, b.labels);
    const c = NPairsLoss.choosePairs(b.labels, t.a1, t.p);
    if (c.a.length === 0) return null;
    const anchors = b.x.indexSelect(0, indexTensor(c.a, b.device));
    const positives = b.x.indexSelect(0, indexTensor(c.p, b.device));
    const m = this.distance.matrix(anchors, positives);
    return { s: this.distance.isSimilarity ? m : m.neg(), targets: c.a.map((_, i) => i), anchors: c.a };
  }
  protected compute(b: Batch): Tensor {
    const l = this.logits(b);
    if (l === null) return zeroLoss(b.x);
    return reduce(perSampleCrossEntropy(l.s, l.targets), this.reducer, b.x, { indices: [l.anchors], labels: b.labels });
  }
  protected override computeSplit(b: Batch): LossSplit {
    const l = this.logits(b);
    if (l === null) return { tightness: zeroLoss(b.x), contrastive: zeroLoss(b.x) };
    return ceSplit(l.s, l.targets, this.reducer);
  }
}

export const nPairsSpec = defineLoss({
  name: 'n-pairs',
  create: (o: NPairsOptions) => new NPairsLoss(o),
});
