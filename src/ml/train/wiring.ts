// Connects the trainer to the library's losses and evaluation.
import { type Tensor, full, tidy } from '../../engine/index.js';
import { evaluateRetrieval } from '../eval/index.js';
import type { TrainConfig } from './config.js';
import type { TrainLoss, TrainerDeps } from './trainer.js';

// TEMPORARY until src/ml/losses lands: the paper's SmoothCrossEntropy.
function smoothCe(eps: number): TrainLoss {
  return {
    name: 'smooth-ce', pairwise: false,
    compute: ({ logits }, labels: Tensor) => tidy(() => {
      const c = logits.shape[1]!;
      const target = full(logits.shape, eps / (c - 1)).scatter(1, labels.unsqueeze(1), 1 - eps);
      const logp = logits.logSoftmax(1);
      return target.mul(target.clampMin(1e-30).log().sub(logp)).sum(1).mean();
    }),
  };
}

export const trainerDeps: TrainerDeps = {
  makeLoss(cfg: TrainConfig): TrainLoss {
    if (cfg.loss.name === 'smooth-ce') return smoothCe(cfg.loss.labelSmoothing);
    throw new Error(`unknown loss '${cfg.loss.name}'`);
  },
  evaluate: evaluateRetrieval,
};
