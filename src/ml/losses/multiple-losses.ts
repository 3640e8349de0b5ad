// pytorch-metric-learning's MultipleLosses: a weighted sum of losses on the same embeddings, each
// with its own miner if wanted (e.g. a base loss plus the TCM regulariser).
import { type Tensor, nn, tidy } from '../../engine/index.js';
import { MetricLoss, type Batch, type Miner, type Reference } from './shared/base.js';
import type { MinedTuples } from '../utils/tuples.js';
import { finiteNumber, LossInputError } from '../utils/validate.js';

export interface MultipleLossesOptions {
  /** One weight per loss (default all 1). */
  weights?: readonly number[];
  /** One miner (or undefined) per loss; a mined loss gets its miner's tuples. */
  miners?: readonly (Miner | undefined)[];
}

/** Holds the losses as children '0', '1', ... so their tables are trained and saved as `losses.0.weight`. */
class LossList extends nn.Module<[], void> {
  forward(): void {
    throw new Error('LossList holds losses; it is not called');
  }
}

/**
 * L = Σ_k w_k L_k(embeddings, labels, tuples_k), tuples_k being loss k's miner's (mined against the
 * reference set when there is one), else the tuples given to forward() (for the losses that take
 * tuples; the classifier losses get none), else none. Losses with learnable tables are children, so
 * their parameters are trained and checkpointed with this module. Giving tuples and miners together
 * is refused, as in pytorch-metric-learning.
 */
export class MultipleLosses extends MetricLoss {
  readonly name = 'MultipleLosses';
  readonly pairwise: boolean;
  override readonly supportsRef: boolean;
  readonly losses: readonly MetricLoss[];
  readonly weights: readonly number[];
  readonly miners: readonly (Miner | undefined)[];
  constructor(losses: readonly MetricLoss[], o: MultipleLossesOptions = {}) {
    super();
    if (losses.length === 0) throw new RangeError(`${this.name}: give at least one loss`);
    this.losses = [...losses];
    this.weights = o.weights ? [...o.weights] : losses.map(() => 1);
    this.miners = o.miners ? [...o.miners] : losses.map(() => undefined);
    for (const [what, list] of [
      ['weights', this.weights],
      ['miners', this.miners],
    ] as const) {
      if (list.length !== losses.length)
        throw new RangeError(`${this.name}: ${what} has ${list.length} entries for ${losses.length} losses`);
    }
    this.weights.forEach((w, i) => finiteNumber(this.name, `weights[${i}]`, w));
    this.miners.forEach((m, i) => {
      if (m && !this.losses[i]!.usesTuples)
        throw new RangeError(`${this.name}: losses[${i}] (${this.losses[i]!.name}) takes no tuples, so no miner`);
    });
    this.pairwise = losses.some((l) => l.pairwise);
    this.supportsRef = losses.every((l) => l.supportsRef);
    const list = new LossList();
    losses.forEach((l, i) => list.registerModule(String(i), l as unknown as nn.Module<never[], unknown>));
    this.registerModule('losses', list as unknown as nn.Module<never[], unknown>);
  }
  override forward(embeddings: Tensor, labels: Tensor, indices?: MinedTuples, ref?: Reference): Tensor {
    if (indices !== undefined && this.miners.some((m) => m !== undefined))
      throw new LossInputError(this.name, 'indices', 'cannot be given when the losses have their own miners');
    if (ref !== undefined && !this.supportsRef) {
      const l = this.losses.find((x) => !x.supportsRef)!;
      throw new LossInputError(this.name, 'ref', `is not supported by ${l.name}`);
    }
    return tidy(() => {
      let total: Tensor | null = null;
      this.losses.forEach((loss, i) => {
        const miner = this.miners[i];
        const tuples = miner
          ? ref
            ? this.mineAgainst(miner, embeddings, labels, ref)
            : miner.mine(embeddings, labels)
          : loss.usesTuples
            ? indices
            : undefined;
        const v = loss.forward(embeddings, labels, tuples, ref).mul(this.weights[i]!);
        total = total === null ? v : total.add(v);
      });
      return total!;
    });
  }
  private mineAgainst(miner: Miner, embeddings: Tensor, labels: Tensor, ref: Reference): MinedTuples {
    if (!miner.mineAgainst)
      throw new LossInputError(this.name, 'ref', `cannot be mined by ${miner.name} (it mines within a batch)`);
    return miner.mineAgainst(embeddings, labels, ref.embeddings, ref.labels);
  }
  protected compute(_b: Batch): Tensor {
    throw new Error(`${this.name}: forward() sums its losses; compute() is not used`);
  }
}
