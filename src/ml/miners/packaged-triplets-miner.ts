// PML's EmbeddingsAlreadyPackagedAsTriplets: the batch is a list of triplets, row 3t the anchor,
// 3t + 1 its positive, 3t + 2 its negative (what the FixedSetOfTriplets sampler produces).
import type { Tensor } from '../../engine/index.js';
import type { Miner } from './base.js';
import type { TripletTuples } from '../utils/tuples.js';
import { LossInputError } from '../utils/validate.js';

/** The triplets (3t, 3t + 1, 3t + 2); the batch size must be a multiple of 3. */
export class PackagedTripletsMiner implements Miner {
  readonly name = 'PackagedTripletsMiner';
  mine(embeddings: Tensor, _labels: Tensor): TripletTuples {
    const n = embeddings.shape[0] ?? 0;
    if (n % 3 !== 0)
      throw new LossInputError(this.name, 'embeddings', `: ${n} rows are not whole triplets (a multiple of 3)`);
    const t = Array.from({ length: n / 3 }, (_, k) => 3 * k);
    return { kind: 'triplets', a: t, p: t.map((v) => v + 1), n: t.map((v) => v + 2) };
  }
}
