// Triplet selection by margin violation (the "batch all / semi-hard / hard" triplets of
// Schroff et al. 2015 and Hermans et al. 2017), as pytorch-metric-learning's TripletMarginMiner.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import type { TripletTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { minerInput, type MinerInput } from './common.js';

export type TripletMiningType = 'all' | 'hard' | 'semihard' | 'easy';

export interface TripletMarginMinerOptions {
  /** m (default 0.2). */
  margin?: number;
  /** Default 'all'. */
  type?: TripletMiningType;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
}

/**
 * Over all valid triplets (a, p, n), with the triplet margin t = d_an - d_ap (s_ap - s_an for a
 * similarity), keeps:
 * - all: t ≤ m (every triplet with a non-zero hinge loss)
 * - hard: t ≤ 0 (the negative is at least as close as the positive)
 * - semihard: 0 < t ≤ m (negative farther than the positive, but inside the margin; FaceNet)
 * - easy: t > m
 * Triplets come out ordered by anchor, positive, negative.
 */
export class TripletMarginMiner implements Miner {
  readonly name = 'TripletMarginMiner';
  readonly margin: number;
  readonly type: TripletMiningType;
  readonly distance: Distance;
  constructor(o: TripletMarginMinerOptions = {}) {
    this.margin = o.margin ?? 0.2;
    finiteNumber(this.name, 'margin', this.margin);
    this.type = o.type ?? 'all';
    if (!['all', 'hard', 'semihard', 'easy'].includes(this.type))
      throw new RangeError(`${this.name}: type must be all | hard | semihard | easy, got '${this.type}'`);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
  }
  mine(embeddings: Tensor, labels: Tensor): TripletTuples {
    return this.select(minerInput(this.name, this.distance, embeddings, labels));
  }
  /** The same selection with positives and negatives taken from a reference set (e.g. a cross-batch memory). */
  mineAgainst(embeddings: Tensor, labels: Tensor, refEmbeddings: Tensor, refLabels: Tensor): TripletTuples {
    return this.select(
      minerInput(this.name, this.distance, embeddings, labels, { embeddings: refEmbeddings, labels: refLabels }),
    );
  }
  private select({ labels: y, refLabels: r, mat, n, m: cols, self }: MinerInput): TripletTuples {
    const sim = this.distance.isSimilarity,
      m = this.margin,
      type = this.type;
    const a: number[] = [],
      p: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < cols; j++) {
        if ((self && j === i) || r[j] !== y[i]) continue;
        const ap = mat[i * cols + j]!;
        for (let k = 0; k < cols; k++) {
          if (r[k] === y[i]) continue;
          const an = mat[i * cols + k]!;
          const t = sim ? ap - an : an - ap;
          const keep =
            type === 'easy' ? t > m : t <= m && (type === 'hard' ? t <= 0 : type === 'semihard' ? t > 0 : true);
          if (keep) {
            a.push(i);
            p.push(j);
            ng.push(k);
          }
        }
      }
    }
    return { kind: 'triplets', a, p, n: ng };
  }
}
