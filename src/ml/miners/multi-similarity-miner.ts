// The pair mining step of the multi-similarity loss (Wang et al., CVPR 2019, §4.1).
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import type { PairTuples } from '../utils/tuples.js';
import { finiteNumber } from '../utils/validate.js';
import { minerInput, type MinerInput } from './common.js';

export interface MultiSimilarityMinerOptions {
  /** ε (default 0.1). */
  epsilon?: number;
  /** Default: cosine similarity. */
  distance?: Distance | DistanceSpec;
}

/**
 * For each anchor i, with similarities S:
 *   keep positive p if S_ip - ε < max_{n ∈ N_i} S_in   (a positive less similar than the hardest negative, up to ε)
 *   keep negative n if S_in + ε > min_{p ∈ P_i} S_ip   (a negative more similar than the hardest positive, up to ε)
 * (for a distance: D_ip + ε > min D_in and D_in - ε < max D_ip). An anchor without negatives keeps
 * no positive, one without positives keeps no negative. Pairs come out row-major.
 */
export class MultiSimilarityMiner implements Miner {
  readonly name = 'MultiSimilarityMiner';
  readonly epsilon: number;
  readonly distance: Distance;
  constructor(o: MultiSimilarityMinerOptions = {}) {
    this.epsilon = o.epsilon ?? 0.1;
    finiteNumber(this.name, 'epsilon', this.epsilon);
    this.distance = makeDistance(o.distance, { name: 'cosine' });
  }
  mine(embeddings: Tensor, labels: Tensor): PairTuples {
    return this.select(minerInput(this.name, this.distance, embeddings, labels));
  }
  /** The same selection with positives and negatives taken from a reference set (e.g. a cross-batch memory). */
  mineAgainst(embeddings: Tensor, labels: Tensor, refEmbeddings: Tensor, refLabels: Tensor): PairTuples {
    return this.select(
      minerInput(this.name, this.distance, embeddings, labels, { embeddings: refEmbeddings, labels: refLabels }),
    );
  }
  private select({ labels: y, refLabels: r, mat, n, m, self }: MinerInput): PairTuples {
    // Orientation: work with "closeness" c = S (similarity) or -D (distance).
    const s = this.distance.isSimilarity ? 1 : -1,
      eps = this.epsilon;
    const a1: number[] = [],
      p: number[] = [],
      a2: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++) {
      let hardestNeg = -Infinity,
        hardestPos = Infinity;
      for (let j = 0; j < m; j++) {
        if (self && j === i) continue;
        const c = s * mat[i * m + j]!;
        if (r[j] === y[i]) hardestPos = Math.min(hardestPos, c);
        else hardestNeg = Math.max(hardestNeg, c);
      }
      for (let j = 0; j < m; j++) {
        if (self && j === i) continue;
        const c = s * mat[i * m + j]!;
        if (r[j] === y[i]) {
          if (c - eps < hardestNeg) {
            a1.push(i);
            p.push(j);
          }
        } else if (c + eps > hardestPos) {
          a2.push(i);
          ng.push(j);
        }
      }
    }
    return { kind: 'pairs', a1, p, a2, n: ng };
  }
}
