// The trainer's side of DDP: the global batch's loss from each rank's, the gradient all-reduce in
// buckets, and the time spent communicating that backward did not hide.
import { distributed, noGrad, type Tensor } from '../../engine/index.js';
import type { TrainConfig } from '../run/config/keys.js';
import type { TrainLoss } from './types.js';

export class DataParallel {
  readonly #reducer: distributed.GradientReducer;
  /** Seconds this epoch in the loss all-reduce and the gradient all-reduce not hidden behind backward. */
  commSeconds = 0;

  constructor(
    readonly group: distributed.ProcessGroup,
    readonly loss: TrainLoss,
    params: Tensor[],
    cfg: TrainConfig['distributed'],
  ) {
    // A sharded loss table's rows are this rank's own: its gradient is not averaged over ranks.
    const own = new Set((loss.shards ?? []).map((s) => s.param));
    const replicated = params.filter((p) => !own.has(p));
    this.#reducer = new distributed.GradientReducer(group, replicated, {
      bucketBytes: Math.round(cfg.bucketMB * 2 ** 20),
      overlap: cfg.overlap,
    });
  }

  /**
   * The global batch's loss from this rank's value (world × loss when gathered, else the mean over
   * its b samples), and this rank's gradient weight: with uneven slices a rank's mean counts in
   * proportion to its samples, and DDP's average over ranks then gives the global mean's gradient.
   */
  globalLoss(value: number, b: number): { value: number; weight: number } {
    const W = this.group.worldSize;
    const t0 = performance.now();
    const [s0, s1] = this.group.allReduceNumbers(this.loss.gathered ? [value / W, 1] : [value * b, b]) as [
      number,
      number,
    ];
    this.commSeconds += (performance.now() - t0) / 1000;
    return { value: s0 / s1, weight: this.loss.gathered ? 1 : (b * W) / s1 };
  }

  /** Before backward: with overlap, the hooks that start each bucket as its gradients are ready. */
  prepare(): void {
    this.#reducer.prepare();
  }

  /**
   * Averages gradients over ranks (DDP). A gathered loss's own parameters got the whole batch's
   * gradient, times the world size, on every rank: divided once more.
   */
  reduceGradients(): void {
    const t0 = performance.now();
    this.#reducer.reduce();
    const module = this.loss.module;
    if (this.loss.gathered && module) {
      noGrad(() => {
        for (const p of module.parameters()) p.grad?.div_(this.group.worldSize);
      });
    }
    this.commSeconds += (performance.now() - t0) / 1000;
  }

  dispose(): void {
    this.#reducer.dispose();
  }
}
