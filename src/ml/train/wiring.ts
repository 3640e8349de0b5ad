// Connects the trainer to the library's losses and evaluation.
import { createLoss, asTrainLoss, LOSS_NAMES, needsClassTable, type LossName } from '../losses/index.js';
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
  return asTrainLoss(loss, group);
}

export const trainerDeps: TrainerDeps = {
  makeLoss,
  evaluate: evaluateRetrieval,
  evaluateSharded: evaluateRetrievalSharded,
};
