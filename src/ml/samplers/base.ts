// What a batch sampler is, and the random stream it draws an epoch from. Deterministic given
// (seed, epoch), so a resumed run sees exactly the batches the interrupted one would have.
import { type Rng, STREAM, rngFor } from '../random.js';

/** The batch-order stream of one epoch of a run seed. */
export const epochRng = (seed: number, epoch: number): Rng => rngFor(seed, STREAM.batches, epoch);

export interface BatchSampler {
  /** Batches of one epoch (drop-last: every batch is full). */
  epoch(epoch: number): number[][];
  readonly batchesPerEpoch: number;
}
