// A fixed set of triplets (pytorch-metric-learning's FixedSetOfTriplets): for experiments where
// the only supervision is a list of triplets rather than labels. Batches are whole triplets, rows
// (3t, 3t + 1, 3t + 2) = (anchor, positive, negative), for PackagedTripletsMiner.
import { type BatchSampler, epochRng } from './base.js';
import { Rng } from '../random.js';
import { positiveInteger } from '../utils/validate.js';

export interface FixedSetOfTripletsOptions {
  labels: ArrayLike<number>;
  numTriplets: number;
  /** A multiple of 3 (default 3: one triplet per batch is rarely wanted; give yours). */
  batchSize: number;
  seed?: number;
}

/**
 * numTriplets triplets drawn once, from the seed: an anchor class and a negative class uniformly
 * (distinct), two distinct samples of the anchor class and one of the negative class. Unlike PML,
 * only classes with at least two samples are anchor classes: PML would draw a singleton class's
 * one sample as both anchor and positive, a pair our losses refuse. Each epoch shuffles the
 * triplets and cuts them into batches of batchSize / 3 triplets (the incomplete last one dropped).
 */
export class FixedSetOfTriplets implements BatchSampler {
  readonly triplets: readonly (readonly [number, number, number])[];
  readonly batchesPerEpoch: number;
  readonly batchSize: number;
  readonly seed: number;
  constructor(o: FixedSetOfTripletsOptions) {
    const where = 'FixedSetOfTriplets';
    positiveInteger(where, 'numTriplets', o.numTriplets);
    positiveInteger(where, 'batchSize', o.batchSize);
    if (o.batchSize % 3 !== 0) throw new RangeError(`${where}: batchSize ${o.batchSize} is not a multiple of 3`);
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < o.labels.length; i++) {
      const c = o.labels[i]!;
      if (!byClass.has(c)) byClass.set(c, []);
      byClass.get(c)!.push(i);
    }
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    const anchors = classes.filter((c) => byClass.get(c)!.length >= 2);
    if (anchors.length === 0 || classes.length < 2)
      throw new RangeError(`${where}: needs a class with two samples and another class`);
    // Its own stream, not an epoch's: the set is fixed for the whole run.
    const rng = new Rng(this.seed).fork(0x7f1e7);
    const t: [number, number, number][] = [];
    for (let k = 0; k < o.numTriplets; k++) {
      const ca = anchors[rng.int(0, anchors.length)]!;
      // Uniform over the classes other than ca: draw among one fewer, then step over ca.
      let q = rng.int(0, classes.length - 1);
      if (q >= classes.indexOf(ca)) q++;
      const cn = classes[q]!;
      const pool = byClass.get(ca)!;
      const [a, p] = rng.shuffle([...pool]).slice(0, 2) as [number, number];
      const negs = byClass.get(cn)!;
      t.push([a, p, negs[rng.int(0, negs.length)]!]);
    }
    this.triplets = t;
    this.batchesPerEpoch = Math.floor((3 * t.length) / o.batchSize);
    if (this.batchesPerEpoch === 0)
      throw new RangeError(`${where}: ${t.length} triplets cannot fill one batch of ${o.batchSize}`);
  }
  epoch(epoch: number): number[][] {
    const order = epochRng(this.seed, epoch).permutation(this.triplets.length);
    const flat = order.flatMap((k) => [...this.triplets[k]!]);
    return Array.from({ length: this.batchesPerEpoch }, (_, b) =>
      flat.slice(b * this.batchSize, (b + 1) * this.batchSize),
    );
  }
}
