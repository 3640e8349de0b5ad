// Pairs spread evenly over the range of their distances (pytorch-metric-learning's
// UniformHistogramMiner): each of numBins equal-width bins contributes the same number of pairs.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import { allPairs, type PairTuples } from '../utils/tuples.js';
import { positiveInteger } from '../utils/validate.js';
import { Rng } from '../random.js';
import { minerInput } from './common.js';

export interface UniformHistogramMinerOptions {
  /** Default 100. */
  numBins?: number;
  /** Pairs drawn per non-empty bin, with replacement (default 10 each). */
  posPerBin?: number;
  negPerBin?: number;
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
  /** Seed of the miner's own generator (default 0); each call advances it. */
  seed?: number;
}

/** torch.linspace's values (it counts the upper half down from `end`, so `end` is exact). */
export function linspace(start: number, end: number, steps: number): number[] {
  const step = (end - start) / (steps - 1);
  return Array.from({ length: steps }, (_, i) => (i < steps / 2 ? start + step * i : end - step * (steps - 1 - i)));
}

/**
 * Positive and negative pairs separately: the bins split [min, max] of the side's distances into
 * numBins equal parts (each [lo, hi), the last [lo, hi]), and every non-empty bin gives perBin
 * pairs drawn uniformly, with replacement, from its pairs. Pairs come out bin by bin.
 */
export class UniformHistogramMiner implements Miner {
  readonly name = 'UniformHistogramMiner';
  readonly numBins: number;
  readonly posPerBin: number;
  readonly negPerBin: number;
  readonly distance: Distance;
  readonly rng: Rng;
  constructor(o: UniformHistogramMinerOptions = {}) {
    this.numBins = o.numBins ?? 100;
    this.posPerBin = o.posPerBin ?? 10;
    this.negPerBin = o.negPerBin ?? 10;
    positiveInteger(this.name, 'numBins', this.numBins);
    positiveInteger(this.name, 'posPerBin', this.posPerBin);
    positiveInteger(this.name, 'negPerBin', this.negPerBin);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
    this.rng = new Rng(o.seed ?? 0);
  }
  mine(embeddings: Tensor, labels: Tensor): PairTuples {
    const { labels: y, mat, n } = minerInput(this.name, this.distance, embeddings, labels);
    const t = allPairs(y);
    const side = (a: readonly number[], o: readonly number[], perBin: number): [number[], number[]] => {
      if (a.length === 0) return [[], []];
      const v = a.map((i, k) => mat[i * n + o[k]!]!);
      const edges = linspace(
        v.reduce((m, x) => Math.min(m, x), Infinity),
        v.reduce((m, x) => Math.max(m, x), -Infinity),
        this.numBins + 1,
      );
      const outA: number[] = [],
        outO: number[] = [];
      for (let b = 0; b < this.numBins; b++) {
        const lo = edges[b]!,
          hi = edges[b + 1]!,
          last = b === this.numBins - 1;
        const inBin = v.flatMap((x, k) => (lo <= x && (last ? x <= hi : x < hi) ? [k] : []));
        if (inBin.length === 0) continue;
        for (let r = 0; r < perBin; r++) {
          const k = inBin[this.rng.int(0, inBin.length)]!;
          outA.push(a[k]!);
          outO.push(o[k]!);
        }
      }
      return [outA, outO];
    };
    const [a1, p] = side(t.a1, t.p, this.posPerBin);
    const [a2, ng] = side(t.a2, t.n, this.negPerBin);
    return { kind: 'pairs', a1, p, a2, n: ng };
  }
}
