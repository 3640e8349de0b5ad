// Distance-weighted sampling (Wu, Manmatha, Smola & Krähenbühl, "Sampling matters in deep embedding
// learning", ICCV 2017), as pytorch-metric-learning's DistanceWeightedMiner.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { EuclideanDistance } from '../distances/index.js';
import type { TripletTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { Rng } from '../random.js';
import { minerInput } from './common.js';
import { sampleIndex } from './sampling.js';

export interface DistanceWeightedMinerOptions {
  /** Distances are clamped to at least this (default 0.5): avoids the weights' pole at 0. */
  cutoff?: number;
  /** Negatives at this distance or farther get weight 0 (default 1.4): they give no loss. */
  nonzeroLossCutoff?: number;
  /** Seed of the miner's own generator (default 0); each call advances it. */
  seed?: number;
}

/**
 * On the unit sphere in d dimensions, pairwise distances have density ∝ D^(d-2) (1 - D²/4)^((d-3)/2);
 * negatives are drawn with the inverse weight, so every distance is sampled about equally rather
 * than the many near-√2 ones dominating:
 *   log w_ij = (2 - d) log D_ij - ((d - 3)/2) log(1 - D_ij²/4),  D_ij = max(‖x̂_i - x̂_j‖, cutoff)
 * normalised by the largest finite log-weight of the matrix (same-class entries count as 0, as in
 * PML), zero for same-class pairs, for D ≥ nonzeroLossCutoff and where non-finite, then per row
 * divided by its sum. For each class c with n_c ≥ 2 members and each anchor a of c, n_c triplets:
 * a positive uniform among the other members of c (with replacement), a negative drawn from row a
 * of the weights. Anchors whose negatives all weigh 0 give none. Computed in float64.
 */
export class DistanceWeightedMiner implements Miner {
  readonly name = 'DistanceWeightedMiner';
  readonly cutoff: number;
  readonly nonzeroLossCutoff: number;
  readonly rng: Rng;
  readonly #distance = new EuclideanDistance({ normalize: true });
  constructor(o: DistanceWeightedMinerOptions = {}) {
    this.cutoff = o.cutoff ?? 0.5;
    this.nonzeroLossCutoff = o.nonzeroLossCutoff ?? 1.4;
    finiteNumber(this.name, 'cutoff', this.cutoff, { min: 0 });
    finiteNumber(this.name, 'nonzeroLossCutoff', this.nonzeroLossCutoff, { min: 0 });
    this.rng = new Rng(o.seed ?? 0);
  }

  /** The row-normalised sampling weights [n × n] (row-major), and the labels. */
  weights(embeddings: Tensor, labels: Tensor): { w: Float64Array; labels: number[]; n: number } {
    const { labels: y, mat, n } = minerInput(this.name, this.#distance, embeddings, labels);
    const d = embeddings.shape[1]!;
    const logw = new Float64Array(n * n);
    const bad = new Uint8Array(n * n);
    let max = -Infinity;
    for (let k = 0; k < n * n; k++) {
      const dist = Math.max(mat[k]!, this.cutoff);
      const v = (2 - d) * Math.log(dist) - ((d - 3) / 2) * Math.log(1 - 0.25 * dist * dist);
      const same = y[Math.floor(k / n)] === y[k % n];
      if (!Number.isFinite(v)) bad[k] = 1;
      logw[k] = same ? 0 : v;
      if (!bad[k] && logw[k]! > max) max = logw[k]!;
    }
    const w = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const k = i * n + j;
        const keep = !bad[k] && y[i] !== y[j] && Math.max(mat[k]!, this.cutoff) < this.nonzeroLossCutoff;
        w[k] = keep ? Math.exp(logw[k]! - max) : 0;
        sum += w[k]!;
      }
      // A row of zeros stays zeros (PML's 0/0 rows are dropped before sampling as well).
      if (sum > 0) for (let j = 0; j < n; j++) w[i * n + j]! /= sum;
    }
    return { w, labels: y, n };
  }

  mine(embeddings: Tensor, labels: Tensor): TripletTuples {
    const { w, labels: y, n } = this.weights(embeddings, labels);
    const a: number[] = [],
      p: number[] = [],
      ng: number[] = [];
    for (const c of [...new Set(y)].sort((u, v) => u - v)) {
      const members = y.flatMap((l, i) => (l === c ? [i] : []));
      const others = y.flatMap((l, i) => (l !== c ? [i] : []));
      if (members.length < 2 || others.length === 0) continue;
      members.forEach((anchor, self) => {
        const row = others.map((j) => w[anchor * n + j]!);
        if (!row.some((v) => v > 0)) return;
        for (let t = 0; t < members.length; t++) {
          let q = this.rng.int(0, members.length - 1);
          if (q >= self) q++; // uniform over the members other than the anchor
          a.push(anchor);
          p.push(members[q]!);
          ng.push(others[sampleIndex(this.rng, row)]!);
        }
      });
    }
    return { kind: 'triplets', a, p, n: ng };
  }
}
