// One optimisation step on one batch (this rank's slice of it in a job): forward, the loss, a
// clean stop signal on divergence, backward with DDP's gradient all-reduce, the optimiser and the
// schedule.
import { type GradScaler, type Tensor, type optim, autocast, tensor, tidy } from '../../engine/index.js';
import type { EmbedderOutput } from '../models/head.js';
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
  /** Where the model is (default the CPU): batches are copied there. */
  device?: string;
  /** CUDA mixed precision: the forward pass under autocast (the loss in float32); fp16 with `scaler`. */
  amp?: 'off' | 'bf16' | 'fp16';
  scaler?: GradScaler | null;
}

/** A host batch on the model's device: pinned, then copied without blocking the host (the CPU: as is). */
function onDevice(t: Tensor, device: string | undefined): Tensor {
  if (device === undefined || device === 'cpu') return t;
  return t.pinMemory().to(device, undefined, { nonBlocking: true });
}

/** The model's output; under autocast the features and logits come back as float32 for the loss. */
function forward(p: StepParts, x: Tensor): EmbedderOutput {
  const amp = p.amp ?? 'off';
  if (amp === 'off') return p.model.forward(x);
  const out = autocast(amp === 'bf16' ? 'bfloat16' : 'float16', () => p.model.forward(x));
  return { ...out, features: out.features.float(), logits: out.logits.float() };
}

/**
 * The global batch's loss (NaN or ±Infinity when the model diverged: nothing is updated then) and
 * the lr the step used. `step` counts from 1.
 */
export function trainStep(p: StepParts, b: Batch, step: number, probe: PceProbe): { loss: number; lr: number } {
  return tidy(() => {
    const x = onDevice(tensor(b.images, { shape: b.shape }), p.device);
    b.release?.();
    const y = onDevice(tensor(b.labels, { dtype: 'int64' }), p.device);
    const out = forward(p, x);
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
    const weighted = weight === 1 ? l : l.mul(weight);
    (p.scaler ? p.scaler.scaleLoss(weighted) : weighted).backward();
    p.dp?.reduceGradients();
    // fp16: a step whose gradients overflowed is skipped (the scaler lowers its scale), as in PyTorch.
    const params = p.scaler ? p.optimizer.paramGroups.flatMap((g) => g.params) : [];
    if (!p.scaler || p.scaler.unscaleAndUpdate(params)) p.optimizer.step();
    const lr = p.optimizer.paramGroups[0]!.lr;
    p.scheduler.step();
    return { loss: v, lr };
  });
}
