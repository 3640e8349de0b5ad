// Hard-aware deeply cascaded mining (Yuan, Yang & Zhang, "Hard-aware deeply cascaded embedding",
// ICCV 2017), as pytorch-metric-learning's HDCMiner.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { allPairs, toPairs, type PairTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { farSign, minerInput } from './common.js';

export interface HDCMinerOptions {
  /** Share of the pairs kept on each side (default 0.5). */
  filterPercentage?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /**
   * Cascade: filter the pairs this miner returns instead of all pairs (PML's set_idx_externally,
   * the paper's cascade of increasingly hard stages).
   */
  miner?: Miner;
}

/**
 * Keeps the hardest ⌈f · |P|⌉ positive pairs (the farthest) and the hardest ⌈f · |N|⌉ negative
 * pairs (the closest) of the batch, or of the given miner's pairs. Pairs come out hardest first;
 * equal distances keep their row-major order.
 */
export class HDCMiner implements Miner {
  readonly name = 'HDCMiner';
  readonly filterPercentage: number;
  readonly distance: Distance;
  readonly miner: Miner | undefined;
  constructor(o: HDCMinerOptions = {}) {
    this.filterPercentage = o.filterPercentage ?? 0.5;
    finiteNumber(this.name, 'filterPercentage', this.filterPercentage, { min: 0, max: 1 });
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.miner = o.miner;
  }
  mine(embeddings: Tensor, labels: Tensor): PairTuples {
    const { labels: y, mat, n } = minerInput(this.name, this.distance, embeddings, labels);
    const t = this.miner ? toPairs(this.miner.mine(embeddings, labels), y) : allPairs(y);
    const s = farSign(this.distance);
    const hardest = (a: readonly number[], o: readonly number[], farFirst: boolean): [number[], number[]] => {
      const k = Math.ceil(this.filterPercentage * a.length);
      const order = a.map((_, q) => q);
      const key = (q: number): number => s * mat[a[q]! * n + o[q]!]! * (farFirst ? -1 : 1);
      order.sort((x, z) => key(x) - key(z) || x - z);
      const kept = order.slice(0, k);
      return [kept.map((q) => a[q]!), kept.map((q) => o[q]!)];
    };
    const [a1, p] = hardest(t.a1, t.p, true);
    const [a2, ng] = hardest(t.a2, t.n, false);
    return { kind: 'pairs', a1, p, a2, n: ng };
  }
}
