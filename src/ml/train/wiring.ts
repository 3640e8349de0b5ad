// Connects the trainer to the library's losses and evaluation.
import {
  createLoss,
  asTrainLoss,
  CrossBatchMemory,
  LOSS_NAMES,
  MetricLoss,
  needsClassTable,
  type LossName,
} from '../losses/index.js';
import { evaluateRetrieval, evaluateRetrievalSharded } from '../eval/index.js';
import type { distributed } from '../../engine/index.js';
import type { TrainConfig } from '../run/config/resolve.js';
import type { TrainLoss, TrainerDeps } from './types.js';

export function makeLoss(
  cfg: TrainConfig,
  numClasses: number,
  featureDim: number,
  group?: distributed.ProcessGroup | null,
): TrainLoss {
  const name = cfg.loss.name;
  if (!(LOSS_NAMES as string[]).includes(name))
    throw new Error(`unknown loss '${name}' (available: ${LOSS_NAMES.join(', ')})`);
  const options: Record<string, unknown> = { ...cfg.loss.options };
  if (name === 'cross-entropy' && cfg.loss.labelSmoothing > 0) options.labelSmoothing ??= cfg.loss.labelSmoothing;
  if (needsClassTable(name)) Object.assign(options, { numClasses, embeddingSize: featureDim, seed: cfg.seed });
  // Option names and types are checked by each loss's constructor, which names the bad one.
  const loss = createLoss(name as LossName, options as never);
  const memory = cfg.loss.memory.size;
  if (memory === 0) return asTrainLoss(loss, group);
  if (!(loss instanceof MetricLoss) || !loss.supportsRef) {
    loss.dispose();
    throw new Error(
      `config: 'loss.memory.size' needs a loss that compares each batch with the memory (a pair loss such as ` +
        `contrastive, triplet, multi-similarity, nt-xent, supcon, circle); '${name}' does not`,
    );
  }
  // The memory takes the global batch: multi-process runs gather it before the loss (asTrainLoss);
  // resolveConfig has checked that it holds one batch at least.
  const xbm = new CrossBatchMemory(loss, {
    embeddingSize: featureDim,
    memorySize: memory,
    startAfter: cfg.loss.memory.start,
  });
  return asTrainLoss(xbm, group);
}

export const trainerDeps: TrainerDeps = {
  makeLoss,
  evaluate: evaluateRetrieval,
  evaluateSharded: evaluateRetrievalSharded,
};
