// One positive and one negative per anchor, each the easiest, hardest or semi-hard one
// (Xuan, Stylianou & Pless, "Improved embeddings with easy positive triplet mining", WACV 2020), as
// pytorch-metric-learning's BatchEasyHardMiner.
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import { type Distance, type DistanceSpec, makeDistance } from '../distances/index.js';
import type { PairTuples } from '../utils/tuples.js';
import { farSign, minerInput } from './common.js';

export type BatchMiningStrategy = 'easy' | 'semihard' | 'hard' | 'all';
const STRATEGIES: readonly BatchMiningStrategy[] = ['easy', 'semihard', 'hard', 'all'];

export interface BatchEasyHardMinerOptions {
  /** Which positive per anchor (default 'easy': the closest). */
  posStrategy?: BatchMiningStrategy;
  /** Which negative per anchor (default 'semihard'). */
  negStrategy?: BatchMiningStrategy;
  /** Only positive pairs whose distance (or similarity) lies in [lo, hi] are candidates. */
  allowedPosRange?: readonly [number, number];
  /** Only negative pairs in [lo, hi] are candidates. */
  allowedNegRange?: readonly [number, number];
  /** Default: Euclidean distance on L2-normalised embeddings. */
  distance?: Distance | DistanceSpec;
}

/**
 * Per anchor, in "distance" terms (a similarity's order is flipped):
 * - positive: easy = the closest, hard = the farthest; semihard = the farthest one still closer
 *   than the anchor's chosen negative; all = every positive pair.
 * - negative: hard = the closest, easy = the farthest; semihard = the closest one farther than the
 *   anchor's chosen positive; all = every negative pair.
 * Without 'all', anchors that have both a positive and a negative give the pairs (a, p) and (a, n),
 * i.e. one triplet each; with 'all' on one side, that side's pairs are all kept and the other side
 * keeps one per anchor. Semihard on both sides, or semihard with all, is refused (as in PML).
 * Ties go to the lowest index.
 */
export class BatchEasyHardMiner implements Miner {
  readonly name: string = 'BatchEasyHardMiner';
  readonly posStrategy: BatchMiningStrategy;
  readonly negStrategy: BatchMiningStrategy;
  readonly allowedPosRange: readonly [number, number] | undefined;
  readonly allowedNegRange: readonly [number, number] | undefined;
  readonly distance: Distance;
  constructor(o: BatchEasyHardMinerOptions = {}) {
    this.posStrategy = o.posStrategy ?? 'easy';
    this.negStrategy = o.negStrategy ?? 'semihard';
    for (const [k, v] of [
      ['posStrategy', this.posStrategy],
      ['negStrategy', this.negStrategy],
    ] as const)
      if (!STRATEGIES.includes(v))
        throw new RangeError(`${this.name}: ${k} must be ${STRATEGIES.join(' | ')}, got '${String(v)}'`);
    const ps = this.posStrategy,
      ns = this.negStrategy;
    if (ps === 'semihard' && ns === 'semihard')
      throw new RangeError(`${this.name}: posStrategy and negStrategy cannot both be semihard`);
    if ((ps === 'all' && ns === 'semihard') || (ns === 'all' && ps === 'semihard'))
      throw new RangeError(`${this.name}: semihard cannot be used with all`);
    this.allowedPosRange = checkRange(this.name, 'allowedPosRange', o.allowedPosRange);
    this.allowedNegRange = checkRange(this.name, 'allowedNegRange', o.allowedNegRange);
    this.distance = makeDistance(o.distance, { name: 'euclidean', normalize: true });
  }

  mine(embeddings: Tensor, labels: Tensor): PairTuples {
    const { labels: y, mat, n } = minerInput(this.name, this.distance, embeddings, labels);
    const s = farSign(this.distance);
    const ps = this.posStrategy,
      ns = this.negStrategy;
    /**
     * Per anchor, the farthest (or closest) candidate with the same (or another) label, in the
     * allowed range and, for semihard, beyond a threshold: { index, value } or null.
     */
    const pick = (
      same: boolean,
      farthest: boolean,
      range: readonly [number, number] | undefined,
      beyond: (number | null)[] | null,
    ): (number | null)[] => {
      const out: (number | null)[] = new Array<number | null>(n).fill(null);
      for (let i = 0; i < n; i++) {
        let best = -1,
          bestV = farthest ? -Infinity : Infinity;
        for (let j = 0; j < n; j++) {
          if (j === i || (y[j] === y[i]) !== same) continue;
          const v = mat[i * n + j]!;
          if (range && (v < range[0] || v > range[1])) continue;
          const f = s * v;
          const t = beyond?.[i];
          // Semihard: strictly on the far side of the other pair's distance.
          if (beyond && (t === null || t === undefined || (farthest ? f >= s * t : f <= s * t))) continue;
          if (farthest ? f > bestV : f < bestV) {
            bestV = f;
            best = j;
          }
        }
        if (best >= 0) out[i] = best;
      }
      return out;
    };
    const valuesOf = (idx: (number | null)[]): (number | null)[] =>
      idx.map((j, i) => (j === null ? null : mat[i * n + j]!));

    let pos: (number | null)[] | null = null,
      neg: (number | null)[] | null = null;
    const posPick = (beyond: (number | null)[] | null): (number | null)[] =>
      pick(true, ps !== 'easy', this.allowedPosRange, beyond);
    const negPick = (beyond: (number | null)[] | null): (number | null)[] =>
      pick(false, ns === 'easy', this.allowedNegRange, beyond);
    if (ps === 'semihard' && ns !== 'all') {
      neg = negPick(null);
      pos = posPick(valuesOf(neg));
    } else if (ns === 'semihard' && ps !== 'all') {
      pos = posPick(null);
      neg = negPick(valuesOf(pos));
    } else {
      if (ps !== 'all') pos = posPick(null);
      if (ns !== 'all') neg = negPick(null);
    }

    const a1: number[] = [],
      p: number[] = [],
      a2: number[] = [],
      ng: number[] = [];
    for (let i = 0; i < n; i++) {
      const both = pos !== null && neg !== null;
      if (both && (pos![i] === null || neg![i] === null)) continue;
      if (pos !== null && pos[i] !== null) {
        a1.push(i);
        p.push(pos[i]!);
      }
      if (neg !== null && neg[i] !== null) {
        a2.push(i);
        ng.push(neg[i]!);
      }
    }
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        if (pos === null && y[j] === y[i]) {
          a1.push(i);
          p.push(j);
        }
        if (neg === null && y[j] !== y[i]) {
          a2.push(i);
          ng.push(j);
        }
      }
    return { kind: 'pairs', a1, p, a2, n: ng };
  }
}

function checkRange(
  where: string,
  name: string,
  r: readonly [number, number] | undefined,
): readonly [number, number] | undefined {
  if (r === undefined) return undefined;
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && !Number.isNaN(v)) || r[0] > r[1])
    throw new RangeError(`${where}: ${name} must be [low, high] with low ≤ high, got ${JSON.stringify(r)}`);
  return r;
}
