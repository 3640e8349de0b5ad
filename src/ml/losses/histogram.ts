// Histogram loss (Ustinova & Lempitsky, NeurIPS 2016), as pytorch-metric-learning's HistogramLoss.
import { type Tensor, zeros } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { CosineSimilarity } from '../distances/index.js';
import { zeroLoss } from '../reducers/index.js';
import { indexTensor, toTriplets } from '../utils/tuples.js';
import { positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface HistogramOptions {
  /** R, the bins over the cosine range [-1, 1] (default 100; Δ = 2/R). */
  numBins?: number;
  miner?: Miner;
}

/**
 * The probability that a random negative pair is more similar than a random positive one,
 * estimated from two soft histograms of cosine similarities (linear interpolation onto R + 1
 * nodes t_r = -1 + rΔ): with p⁺, p⁻ the normalised histograms of the distinct positive and
 * negative pairs (unordered) and Φ⁺ the cumulative sum of p⁺,
 *   L = Σ_r p⁻_r Φ⁺_r
 * The pairs come from the triplets (all of them, or the mined ones). One deliberate difference from
 * pytorch-metric-learning: a similarity of exactly 1 (identical embeddings, or a cosine rounded
 * past 1) goes to the last node instead of indexing past the end of the histogram (an error there).
 */
export class HistogramLoss extends MetricLoss {
  readonly name = 'HistogramLoss';
  readonly pairwise = true;
  readonly numBins: number;
  readonly distance = new CosineSimilarity();
  constructor(o: HistogramOptions = {}) {
    super();
    this.numBins = o.numBins ?? 100;
    positiveInteger(this.name, 'numBins', this.numBins);
    this.miner = o.miner;
  }
  /** Distinct unordered pairs {i, j} of the (i, j) pairs, as two index tensors (smaller index first). */
  private distinctPairs(a: readonly number[], o: readonly number[], device: string): [Tensor, Tensor] {
    const seen = new Map<string, [number, number]>();
    a.forEach((i, k) => {
      const j = o[k]!;
      const p: [number, number] = i < j ? [i, j] : [j, i];
      seen.set(`${p[0]},${p[1]}`, p);
    });
    const ps = [...seen.values()];
    return [
      indexTensor(
        ps.map((p) => p[0]),
        device,
      ),
      indexTensor(
        ps.map((p) => p[1]),
        device,
      ),
    ];
  }
  private density(s: Tensor): Tensor {
    const delta = 2 / this.numBins;
    const bins = Math.round(1 + 2 / delta);
    // The bin of each value (a constant): clamped so that s = 1 falls in the last bin, at its end.
    const r = s
      .detach()
      .add(1)
      .div(delta)
      .floor()
      .clamp(0, bins - 2);
    const right = s.add(1).sub(r.mul(delta)).div(delta);
    const left = r.add(1).mul(delta).sub(1).sub(s).div(delta);
    const rIdx = r.to('int64');
    return zeros([bins], { dtype: s.dtype, device: s.device })
      .scatterAdd(0, rIdx.add(1), right)
      .scatterAdd(0, rIdx, left)
      .div(s.shape[0]!);
  }
  protected compute(b: Batch): Tensor {
    const t = toTriplets(b.tuples, b.labels);
    if (t.a.length === 0) return zeroLoss(b.x);
    const mat = this.distance.matrix(b.x);
    const ap = mat.index(this.distinctPairs(t.a, t.p, b.device));
    const an = mat.index(this.distinctPairs(t.a, t.n, b.device));
    const phi = this.density(ap).cumsum(0);
    return this.density(an).mul(phi).sum();
  }
}

export const histogramSpec = defineLoss({
  name: 'histogram',
  create: (o: HistogramOptions) => new HistogramLoss(o),
});
