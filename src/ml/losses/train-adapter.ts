// Adapts a loss to the trainer's shape: the model gives { logits, features }; logit losses (the
// paper's CE) take the logits, every other loss the features; learnable tables ride along as
// `module` so the trainer optimises and checkpoints them.
import type { Tensor, nn, distributed } from '../../engine/index.js';
import { LogitLoss, type MetricLoss } from './shared/base.js';
import { DistributedLossWrapper } from './distributed.js';
import { SoftmaxTableLoss } from './shared/softmax-table.js';

export interface ModelOutput {
  logits: Tensor;
  features: Tensor;
}

/** Structurally the trainer's TrainLoss (src/ml/train/types.ts). */
export interface TrainableLoss {
  readonly name: string;
  /** Pairwise losses want class-balanced batches. */
  readonly pairwise: boolean;
  /** The loss itself when it has parameters or buffers (proxies, class weights, β). */
  readonly module?: nn.Module<never[], unknown>;
  /**
   * In a multi-process run: true when compute() sees the gathered global batch (losses on
   * embeddings, via DistributedLossWrapper; the value is then multiplied by the world size), false
   * when it sees only this rank's slice (logit losses, a mean over samples).
   */
  readonly gathered: boolean;
  /** A classifier loss on the logits (CE and its variants): the trainer then measures CE against PCE. */
  readonly usesLogits: boolean;
  /** A PartialFC table sharded over the ranks: rows [start, end) of total, under `key` in the loss's state dict. */
  readonly shards?: readonly { key: string; param: Tensor; start: number; end: number; total: number }[];
  compute(out: ModelOutput, labels: Tensor): Tensor;
}

/**
 * With a process group of more than one rank, losses on embeddings see the whole global batch
 * (pairwise and proxy losses are not means over samples); logit losses stay per rank.
 */
export function asTrainLoss(loss: MetricLoss | LogitLoss, group?: distributed.ProcessGroup | null): TrainableLoss {
  const stateful = loss.numParameters() > 0 || loss.buffers().length > 0;
  const multi = group !== undefined && group !== null && group.worldSize > 1;
  let compute: (out: ModelOutput, labels: Tensor) => Tensor;
  const sharded = loss instanceof SoftmaxTableLoss && loss.shard !== null ? loss : null;
  if (loss instanceof LogitLoss) {
    compute = (out, labels) => loss.forward(out.logits, labels);
  } else if (multi && !sharded) {
    const wrapped = new DistributedLossWrapper(loss, group);
    compute = (out, labels) => wrapped.forward(out.features, labels);
  } else {
    compute = (out, labels) => loss.forward(out.features, labels);
  }
  return {
    name: loss.name,
    pairwise: loss.pairwise,
    gathered: multi && !(loss instanceof LogitLoss),
    usesLogits: loss instanceof LogitLoss,
    ...(stateful ? { module: loss as unknown as nn.Module<never[], unknown> } : {}),
    // A sharded head gathers the batch itself (and returns world size × the loss, as the wrapper).
    ...(sharded
      ? {
          shards: [
            {
              key: sharded.tableName,
              param: sharded.table,
              ...sharded.classRange,
              total: sharded.numClasses,
            },
          ],
        }
      : {}),
    compute,
  };
}
