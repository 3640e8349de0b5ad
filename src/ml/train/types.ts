// What the trainer is given and gives back: the loss it trains, how it evaluates, its result.
import type { Tensor, distributed, nn } from '../../engine/index.js';
import type { EmbedderOutput } from '../models/head.js';
import type { TrainConfig } from '../run/config/keys.js';
import type { LossShard } from './shards.js';
import type { DeviceChoice } from './device.js';

export interface TrainLoss {
  readonly name: string;
  /** Needs class-balanced batches (pairwise losses). */
  readonly pairwise: boolean;
  /** Learnable loss parameters (proxies, margins), trained and checkpointed with the model. */
  readonly module?: nn.Module<never[], unknown>;
  /** Multi-process: compute() sees the gathered global batch and returns world size × its loss. */
  readonly gathered?: boolean;
  /** A classifier loss on the logits: each logged step also measures the head's CE against PCE. */
  readonly usesLogits?: boolean;
  /** Multi-process: parameters of `module` split across the ranks (a PartialFC class table). */
  readonly shards?: readonly LossShard[];
  compute(out: EmbedderOutput, labels: Tensor): Tensor;
}

export interface EvalMetrics {
  recall: { cosine: Record<string, number>; l2: Record<string, number> };
  [extra: string]: unknown;
}
export type EvaluateFn = (
  query: { features: Tensor; labels: Tensor },
  gallery: { features: Tensor; labels: Tensor } | null,
  ks: number[],
) => EvalMetrics;
/** EvaluateFn over shards: each rank passes its contiguous shard; every rank gets the whole set's metrics. */
export type ShardedEvaluateFn = (
  group: distributed.ProcessGroup,
  query: { features: Tensor; labels: Tensor },
  gallery: { features: Tensor; labels: Tensor } | null,
  ks: number[],
) => EvalMetrics;

export interface TrainerDeps {
  makeLoss(
    cfg: TrainConfig,
    numClasses: number,
    featureDim: number,
    group?: distributed.ProcessGroup | null,
  ): TrainLoss;
  evaluate: EvaluateFn;
  evaluateSharded?: ShardedEvaluateFn;
  log?: (line: string) => void;
  /** The device, resolved by the caller (dml train resolves it before the data loads); else from cfg.device. */
  device?: DeviceChoice;
  /** Data-parallel training over this group's ranks (null or absent: one process). */
  group?: distributed.ProcessGroup | null;
  /** Draw the per-epoch progress bar / lines (default true; dml train --quiet turns it off). */
  progress?: boolean;
  /** The classes' names, kept in the checkpoints for eval, reports and the search page. */
  classNames?: { train: readonly string[]; test: readonly string[] };
  /** Called after each training batch (the main process only), whether or not the bar is drawn. */
  onProgress?: (p: TrainProgress) => void;
}

/** Where training stands after a batch. */
export interface TrainProgress {
  /** 1-based epoch, and its last. */
  epoch: number;
  epochs: number;
  /** 1-based batch of this epoch, and the epoch's count. */
  batch: number;
  batches: number;
  /** Optimizer steps so far, over all epochs. */
  step: number;
  loss: number;
  /** This epoch's images per second so far (all processes of a job). */
  imagesPerSecond: number;
}

export interface TrainResult {
  epochs: number;
  best: { epoch: number; metrics: EvalMetrics | null };
  last: EvalMetrics | null;
  trainImagesPerSecond: number;
  runDir: string;
  /** What the run's shape said before it started (short epochs, dropped images, seen test classes, a busy machine). */
  warnings: string[];
}

export class NonFiniteLossError extends Error {}
