// Batch-hard mining (Hermans, Beyer & Leibe, "In defense of the triplet loss", 2017).
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import type { TripletTuples } from '../utils/tuples.js';
import { minerInput, type MinerInput } from './common.js';

export interface BatchHardMinerOptions {
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
}

/**
 * One triplet per anchor: its farthest positive and its closest negative (for a similarity: the
 * least similar positive and the most similar negative). Anchors without a positive or without a
 * negative give no triplet. Ties go to the lowest index.
 */
export class BatchHardMiner implements Miner {
  readonly name = 'BatchHardMiner';
  readonly distance: Distance;
  constructor(o: BatchHardMinerOptions = {}) {
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
  private select({ labels: y, refLabels: r, mat, n, m, self }: MinerInput): TripletTuples {
    // Work in "distance" orientation: flip a similarity's sign.
    const s = this.distance.isSimilarity ? -1 : 1;
    const a: number[] = [],
      p: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++) {
      let bestP = -1,
        bestPd = -Infinity,
        bestN = -1,
        bestNd = Infinity;
      for (let j = 0; j < m; j++) {
        if (self && j === i) continue;
        const d = s * mat[i * m + j]!;
        if (r[j] === y[i]) {
          if (d > bestPd) {
            bestPd = d;
            bestP = j;
          }
        } else if (d < bestNd) {
          bestNd = d;
          bestN = j;
        }
      }
      if (bestP >= 0 && bestN >= 0) {
        a.push(i);
        p.push(bestP);
        ng.push(bestN);
      }
    }
    return { kind: 'triplets', a, p, n: ng };
  }
}
