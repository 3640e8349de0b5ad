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
import { createMiner, MINER_NAMES, minerIsRandom, type MinerName } from '../miners/index.js';
import { evaluateRetrieval, evaluateRetrievalSharded } from '../eval/index.js';
import type { distributed } from '../../engine/index.js';
import { mixSeed, STREAM } from '../random.js';
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
  // loss.options.shard=true: a PartialFC head split over this run's processes (one process: whole).
  if (options.shard === true && group && group.worldSize > 1) options.shard = group;
  else if (typeof options.shard === 'boolean') options.shard = undefined;
  // Option names and types are checked by each loss's constructor, which names the bad one.
  const loss = createLoss(name as LossName, options as never);
  try {
    attachMiner(cfg, loss);
  } catch (e) {
    loss.dispose();
    throw e;
  }
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
  // resolveConfig has checked that it holds one batch at least. A miner (miner.name or the loss's
  // own) mines against the memory, so it must implement mineAgainst (checked here).
  let xbm: CrossBatchMemory;
  try {
    xbm = new CrossBatchMemory(loss, {
      embeddingSize: featureDim,
      memorySize: memory,
      startAfter: cfg.loss.memory.start,
    });
  } catch (e) {
    loss.dispose();
    throw e;
  }
  return asTrainLoss(xbm, group);
}

/** miner.name / miner.options: any miner for any loss that reads mined tuples, replacing its own. */
function attachMiner(cfg: TrainConfig, loss: ReturnType<typeof createLoss>): void {
  const name = cfg.miner.name;
  if (name === '') return;
  if (!(MINER_NAMES as readonly string[]).includes(name))
    throw new Error(`unknown miner '${name}' (available: ${MINER_NAMES.join(', ')})`);
  if (!(loss instanceof MetricLoss) || !loss.takesTuples)
    throw new Error(
      `miner.name=${name}: loss '${cfg.loss.name}' does not use mined pairs or triplets (it compares samples with ` +
        'class weights, proxies or logits)',
    );
  const options: Record<string, unknown> = { ...cfg.miner.options };
  // A random miner draws from its own generator: seeded from the run, so a rerun mines the same.
  if (minerIsRandom(name)) options.seed ??= mixSeed(cfg.seed, STREAM.miners);
  loss.miner = createMiner(name as MinerName, options);
}

export const trainerDeps: TrainerDeps = {
  makeLoss,
  evaluate: evaluateRetrieval,
  evaluateSharded: evaluateRetrievalSharded,
};
