// Plain shuffled batches, for the losses that need no particular class mix.
import { type BatchSampler, epochRng } from './base.js';

/** Shuffled batches of batchSize, dropping the incomplete last one. */
export class RandomBatchSampler implements BatchSampler {
  readonly batchesPerEpoch: number;
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly seed = 0,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`RandomBatchSampler: batchSize must be a positive integer, got ${batchSize}`);
    this.batchesPerEpoch = Math.floor(size / batchSize);
    if (this.batchesPerEpoch === 0)
      throw new RangeError(`RandomBatchSampler: ${size} samples cannot fill one batch of ${batchSize}`);
  }
  epoch(epoch: number): number[][] {
    const order = epochRng(this.seed, epoch).permutation(this.size);
    const out: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) out.push(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }
}
