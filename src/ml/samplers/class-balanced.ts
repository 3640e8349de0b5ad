// m samples of each of batchSize / m classes: what pair and triplet losses need to find positives.
import { type BatchSampler, epochRng } from './base.js';

/**
 * Class-balanced batches: batchSize / m classes per batch, m samples each — the reference's
 * RandomReplacedIdentitySampler: classes are drawn without replacement within a batch, and a class
 * with fewer than m samples is sampled with replacement. An epoch has floor(N / batchSize) batches.
 */
export class ClassBalancedSampler implements BatchSampler {
  readonly batchesPerEpoch: number;
  readonly byClass: Map<number, number[]>;
  constructor(
    readonly labels: ArrayLike<number>,
    readonly batchSize: number,
    readonly m: number,
    readonly seed = 0,
  ) {
    if (!Number.isInteger(m) || m < 1)
      throw new RangeError(`ClassBalancedSampler: samples per class must be a positive integer, got ${m}`);
    if (!Number.isInteger(batchSize) || batchSize % m !== 0) {
      throw new RangeError(`ClassBalancedSampler: batch size ${batchSize} is not divisible by samples per class ${m}`);
    }
    this.byClass = new Map();
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i]!;
      if (!this.byClass.has(c)) this.byClass.set(c, []);
      this.byClass.get(c)!.push(i);
    }
    const classesPerBatch = batchSize / m;
    if (this.byClass.size < classesPerBatch) {
      throw new RangeError(
        `ClassBalancedSampler: batch needs ${classesPerBatch} classes of ${m} samples, the data has only ` +
          `${this.byClass.size} classes`,
      );
    }
    this.batchesPerEpoch = Math.floor(labels.length / batchSize);
    if (this.batchesPerEpoch === 0)
      throw new RangeError(`ClassBalancedSampler: ${labels.length} samples cannot fill one batch of ${batchSize}`);
  }
  epoch(epoch: number): number[][] {
    const rng = epochRng(this.seed, epoch);
    const classes = [...this.byClass.keys()].sort((a, b) => a - b);
    const per = this.batchSize / this.m;
    const out: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const chosen = rng.shuffle([...classes]).slice(0, per);
      const batch: number[] = [];
      for (const c of chosen) {
        const pool = this.byClass.get(c)!;
        if (pool.length >= this.m) batch.push(...rng.shuffle([...pool]).slice(0, this.m));
        else for (let k = 0; k < this.m; k++) batch.push(pool[rng.int(0, pool.length)]!);
      }
      out.push(batch);
    }
    return out;
  }
}
