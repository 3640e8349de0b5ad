// Pairs that violate a margin (pytorch-metric-learning's PairMarginMiner): what a contrastive loss
// with these margins would penalise.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import type { PairTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { minerInput } from './common.js';

export interface PairMarginMinerOptions {
  /** Positive pairs farther than this are kept (default 0.2). */
  posMargin?: number;
  /** Negative pairs closer than this are kept (default 0.8). */
  negMargin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
}

/**
 * Keeps positive pairs with d > m⁺ and negative pairs with d < m⁻ (for a similarity: s < m⁺ and
 * s > m⁻). Pairs come out row-major.
 */
export class PairMarginMiner implements Miner {
  readonly name = 'PairMarginMiner';
  readonly posMargin: number;
  readonly negMargin: number;
  readonly distance: Distance;
  constructor(o: PairMarginMinerOptions = {}) {
    this.posMargin = o.posMargin ?? 0.2;
    this.negMargin = o.negMargin ?? 0.8;
    finiteNumber(this.name, 'posMargin', this.posMargin);
    finiteNumber(this.name, 'negMargin', this.negMargin);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
  }
  mine(embeddings: Tensor, labels: Tensor): PairTuples {
    const { labels: y, mat, n } = minerInput(this.name, this.distance, embeddings, labels);
    const sim = this.distance.isSimilarity;
    const a1: number[] = [],
      p: number[] = [],
      a2: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const v = mat[i * n + j]!;
        if (y[j] === y[i]) {
          if (sim ? v < this.posMargin : v > this.posMargin) {
            a1.push(i);
            p.push(j);
          }
        } else if (sim ? v > this.negMargin : v < this.negMargin) {
          a2.push(i);
          ng.push(j);
        }
      }
    return { kind: 'pairs', a1, p, a2, n: ng };
  }
}
