// The miner contract lives with the miners; losses import it to call the miner they are given.
import type { Tensor } from '../../engine/index.js';
import type { MinedTuples } from '../utils/tuples.js';

/** Selects informative pairs or triplets of a batch (without gradient). */
export interface Miner {
  readonly name: string;
  mine(embeddings: Tensor, labels: Tensor): MinedTuples;
}
