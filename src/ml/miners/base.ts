// The miner contract lives with the miners; losses import it to call the miner they are given.
import type { Tensor } from '../../engine/index.js';
import type { MinedTuples } from '../utils/tuples.js';

/** Selects informative pairs or triplets of a batch (without gradient). */
export interface Miner {
  readonly name: string;
  mine(embeddings: Tensor, labels: Tensor): MinedTuples;
  /**
   * Mines tuples between the batch (anchors) and a reference set such as a cross-batch memory
   * (positives and negatives index its rows). Optional: a miner without it mines within a batch
   * only, and a loss given a reference set refuses it rather than misread its indices.
   */
  mineAgainst?(embeddings: Tensor, labels: Tensor, refEmbeddings: Tensor, refLabels: Tensor): MinedTuples;
}
