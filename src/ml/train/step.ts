// One optimisation step on one batch (this rank's slice of it in a job): forward, the loss, a
// clean stop signal on divergence, backward with DDP's gradient all-reduce, the optimiser and the
// schedule.
import { type Tensor, type optim, tensor, tidy } from '../../engine/index.js';
import type { Embedder } from '../models/factory.js';
import type { Batch } from '../run/datasets/source.js';
import type { DataParallel } from './data-parallel.js';
import type { PceProbe } from './pce-probe.js';
import type { TrainLoss } from './types.js';

export interface StepParts {
  model: Embedder;
  loss: TrainLoss;
  optimizer: optim.SGD | optim.AdamW;
  scheduler: optim.LambdaLR;
  dp: DataParallel | null;
}

/**
 * The global batch's loss (NaN or ±Infinity when the model diverged: nothing is updated then) and
 * the lr the step used. `step` counts from 1.
 */
export function trainStep(p: StepParts, b: Batch, step: number, probe: PceProbe): { loss: number; lr: number } {
  return tidy(() => {
    const x = tensor(b.images, { shape: b.shape });
    b.release?.();
    const y = tensor(b.labels, { dtype: 'int64' });
    const out = p.model.forward(x);
    let l: Tensor | null = null;
    let own: number;
    try {
      l = p.loss.compute(out, y);
      own = l.item();
    } catch (e) {
      // Losses refuse non-finite inputs; a model that produced them has diverged.
      if (!out.logits.isfinite().all().item() || !out.features.isfinite().all().item()) own = NaN;
      else throw e;
    }
    // Every rank learns the global loss, so a divergence on one rank stops them all together.
    const { value: v, weight } = p.dp ? p.dp.globalLoss(own, b.labels.length) : { value: own, weight: 1 };
    if (!Number.isFinite(v) || l === null) return { loss: Number.isFinite(v) ? NaN : v, lr: 0 };
    probe.observe(step, out, b.labels);
    p.optimizer.zeroGrad();
    p.dp?.prepare();
    (weight === 1 ? l : l.mul(weight)).backward();
    p.dp?.reduceGradients();
    p.optimizer.step();
    const lr = p.optimizer.paramGroups[0]!.lr;
    p.scheduler.step();
    return { loss: v, lr };
  });
}
