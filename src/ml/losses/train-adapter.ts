// Adapts a loss to the trainer's shape: the model gives { logits, features }; logit losses (the
// paper's CE) take the logits, every other loss the features; learnable tables ride along as
// `module` so the trainer optimises and checkpoints them.
import type { Tensor, nn } from '../../engine/index.js';
import { LogitLoss, type MetricLoss } from './shared/base.js';

export interface ModelOutput {
  logits: Tensor;
  features: Tensor;
}

/** Structurally the trainer's TrainLoss (src/ml/train/trainer.ts). */
export interface TrainableLoss {
  readonly name: string;
  /** Pairwise losses want class-balanced batches. */
  readonly pairwise: boolean;
  /** The loss itself when it has parameters or buffers (proxies, class weights, β). */
  readonly module?: nn.Module<never[], unknown>;
  compute(out: ModelOutput, labels: Tensor): Tensor;
}

export function asTrainLoss(loss: MetricLoss | LogitLoss): TrainableLoss {
  const stateful = loss.numParameters() > 0 || loss.buffers().length > 0;
  const compute = loss instanceof LogitLoss
    ? (out: ModelOutput, labels: Tensor): Tensor => loss.forward(out.logits, labels)
    : (out: ModelOutput, labels: Tensor): Tensor => loss.forward(out.features, labels);
  return {
    name: loss.name,
    pairwise: loss.pairwise,
    ...(stateful ? { module: loss as unknown as nn.Module<never[], unknown> } : {}),
    compute,
  };
}
