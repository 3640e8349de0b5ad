// Division by a count the loss defines (PML's DivisorReducer): e.g. the number of pairs the margin
// loss looked at, or twice the same-class centre pairs of the sparse-centres regulariser.
import type { Tensor } from '../../engine/index.js';
import { type Reducer, type Reduction, zeroLoss } from './base.js';

/** Σℓ / divisor, where the loss supplies the divisor; 0 when the divisor is 0. */
export class DivisorReducer implements Reducer {
  readonly name: string = 'divisor';
  reduce(r: Reduction): Tensor {
    if (r.divisor === undefined)
      throw new RangeError(
        `DivisorReducer: the loss defines no divisor for its '${r.part}' terms (it needs a loss or regulariser ` +
          'that does, e.g. SparseCentersRegularizer)',
      );
    if (r.divisor === 0 || r.losses.numel() === 0) return zeroLoss(r.embeddings);
    return r.losses.sum().div(r.divisor);
  }
}
