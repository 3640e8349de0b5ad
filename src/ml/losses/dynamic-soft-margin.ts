// Dynamic soft margin loss (Zhang & Rusinkiewicz, "Learning Local Descriptors with a CDF-Based
// Dynamic Soft Margin", ICCV 2019), as pytorch-metric-learning's DynamicSoftMarginLoss.
import { type Tensor, noGrad, zeros } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner } from './shared/base.js';
import { EuclideanDistance } from '../distances/index.js';
import { zeroLoss } from '../reducers/index.js';
import { indexTensor, toTriplets } from '../utils/tuples.js';
import { finiteNumber, positiveInteger } from '../utils/validate.js';
import { defineLoss } from './shared/spec.js';

export interface DynamicSoftMarginOptions {
  /** The low end of the histogram of d_ap - d_an (default -2, the least possible for unit vectors). */
  minVal?: number;
  /** Bins over [minVal, -minVal] (default 10). */
  numBins?: number;
  /** Weight of the current batch in the running histogram (default 0.01). */
  momentum?: number;
  miner?: Miner;
}

/**
 * Over the triplets (all of them, or the mined ones), with v = d_ap - d_an on L2-normalised
 * embeddings: a running histogram of v (linear interpolation between bin edges, momentum
 * update, normalised to sum 1; the first batch replaces it), whose CDF weighs each triplet,
 *   L = mean_t CDF(v_t) · v_t
 * so triplets that are hard relative to the distribution seen so far weigh most, without a fixed
 * margin. Buffer: `hist` [numBins] (saved with the loss, so a resumed run keeps it).
 * Deliberate differences from pytorch-metric-learning: the histogram is a statistic, updated from
 * detached values (there it keeps the graph, so the second backward() fails with "Trying to
 * backward through the graph a second time"; the first step's gradient there also flows through
 * the histogram); values past the last bin edge count in the last bin (there, v beyond
 * -minVal - 2·Δ indexes past the end of the histogram, an error). Values match it while every v is
 * inside the histogram; gradients match it with the histogram update given detached values.
 * Descriptor matching without labels (pytorch-metric-learning's labels=None) is not offered.
 */
export class DynamicSoftMarginLoss extends MetricLoss {
  readonly name = 'DynamicSoftMarginLoss';
  readonly pairwise = true;
  readonly minVal: number;
  readonly numBins: number;
  readonly momentum: number;
  readonly delta: number;
  readonly distance = new EuclideanDistance({ normalize: true });
  constructor(o: DynamicSoftMarginOptions = {}) {
    super();
    this.minVal = o.minVal ?? -2;
    this.numBins = o.numBins ?? 10;
    this.momentum = o.momentum ?? 0.01;
    finiteNumber(this.name, 'minVal', this.minVal, { max: 0 });
    if (this.minVal === 0) throw new RangeError(`${this.name}: minVal must be negative, got 0`);
    positiveInteger(this.name, 'numBins', this.numBins);
    if (this.numBins < 2) throw new RangeError(`${this.name}: numBins must be at least 2, got ${this.numBins}`);
    finiteNumber(this.name, 'momentum', this.momentum, { min: 0, max: 1 });
    this.delta = (2 * Math.abs(this.minVal)) / this.numBins;
    this.registerBuffer('hist', zeros([this.numBins]));
    this.miner = o.miner;
  }
  get hist(): Tensor {
    return this.buffer('hist')!;
  }
  /**
   * Each value's bin (the CDF entry that weighs it), and the edge its mass is split from with the
   * fraction going to the next edge (the last bin's values go to the last edge). Constants.
   */
  private bins(v: Tensor): { bin: Tensor; idx: Tensor; frac: Tensor } {
    const u = v
      .detach()
      .sub(this.minVal)
      .div(this.delta)
      .clamp(0, this.numBins - 1);
    const bin = u.floor();
    const idx = bin.clampMax(this.numBins - 2);
    return { bin: bin.to('int64'), idx: idx.to('int64'), frac: u.sub(idx) };
  }
  private update(v: Tensor): void {
    noGrad(() => {
      if (this.hist.dtype !== v.dtype) this.registerBuffer('hist', this.hist.to(v.dtype));
      const { idx, frac } = this.bins(v);
      const m = this.hist.sum().item() !== 0 ? this.momentum : 1;
      const next = this.hist
        .mul(1 - m)
        .scatterAdd(0, idx, frac.rsub(1).mul(m))
        .scatterAdd(0, idx.add(1), frac.mul(m));
      this.hist.copy_(next.div(next.sum()));
    });
  }
  protected compute(b: Batch): Tensor {
    const t = toTriplets(b.tuples, b.labels);
    if (t.a.length === 0) return zeroLoss(b.x);
    const mat = this.distance.matrix(b.x);
    const a = indexTensor(t.a, b.device);
    const v = mat.index([a, indexTensor(t.p, b.device)]).sub(mat.index([a, indexTensor(t.n, b.device)]));
    this.update(v);
    const cdf = this.hist.cumsum(0).indexSelect(0, this.bins(v).bin);
    return cdf.mul(v).mean();
  }
}

export const dynamicSoftMarginSpec = defineLoss({
  name: 'dynamic-soft-margin',
  create: (o: DynamicSoftMarginOptions) => new DynamicSoftMarginLoss(o),
});
