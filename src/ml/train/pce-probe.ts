// The paper's "CE bounds PCE", measured while training: on the logged steps of a classifier loss,
// the head's CE against the pairwise CE of this rank's slice of the batch. One probe per epoch.
import type { Tensor } from '../../engine/index.js';
import { measurePceBound, PceBoundAccumulator, type PceBoundSummary } from '../losses/pce-bound.js';
import type { TrainLoss } from './types.js';

export class PceProbe {
  readonly #acc = new PceBoundAccumulator();
  constructor(
    readonly loss: TrainLoss,
    readonly logEvery: number,
  ) {}

  /** A step's outputs (`step` counted from 1): measured when the loss has logits and the step is logged. */
  observe(step: number, out: { features: Tensor; logits: Tensor }, labels: Int32Array): void {
    if (this.loss.usesLogits && step % this.logEvery === 0)
      this.#acc.add(measurePceBound(out.features, out.logits, labels));
  }

  /** This rank's sums, for the epoch's all-reduce over ranks. */
  sums(): number[] {
    return this.#acc.sums();
  }

  /** The epoch's mean (null when nothing was measured); `sums`: every rank's, all-reduced. */
  summary(sums?: number[]): PceBoundSummary | null {
    if (sums) this.#acc.setSums(sums);
    return this.#acc.mean();
  }
}
