// A run's working set, estimated from its settings before anything is allocated, and checked
// against a limit: a batch or an image size that cannot fit is refused at once, naming the
// settings to change, instead of after minutes of data loading, by the kernel's OOM killer (or
// by a swap storm that takes the machine with it).
//
// Bytes = the process's base (node + libtorch) + parameters × (weights, gradients, optimizer
// state) + batch × the activations a forward keeps for backward (the model family's count) × a
// calibration factor + the loader's batch buffers. The factors were fitted to the peak RSS
// (VmHWM) of short runs (bench/memory.ts; libtorch 2.13 CPU, 2 threads, x86-64):
//
// | arch | side | batch | train est. MiB | train VmHWM MiB | embed est. MiB | embed VmHWM MiB |
// | --- | --- | --- | --- | --- | --- | --- |
// | resnet18 | 28 | 8 | 426 | 456 | 306 | 267 |
// | resnet18 | 64 | 32 | 494 | 494 | 331 | 301 |
// | resnet18 | 112 | 32 | 645 | 685 | 386 | 373 |
// | resnet50 | 64 | 16 | 709 | 746 | 371 | 413 |
// | resnet50 | 112 | 32 | 1468 | 1443 | 473 | 470 |
// | resnet50 | 112 | 64 | 2374 | 2327 | 594 | 586 |
// | vit_tiny_patch16 | 112 | 32 | 669 | 617 | 318 | 336 |
//
// (one run each; a rerun moved single peaks by up to 12 MiB): the estimates are 0.90 to 1.15 of
// the measured peaks, and the tests hold them to 0.8 to 1.25. What the estimate does not count: a
// data.cache (bounded by data.cacheMB), decoded source images in the loader's workers (their size
// is the files', unknown before they are read), the test set's embeddings, and more libtorch
// threads than 2 (each adds its own scratch).
import { constrainedMemory, totalmem } from './memory-sources.js';
import type { TrainConfig } from './config/keys.js';
import { familyOfArch } from '../models/families.js';
import type { FootprintSpec } from '../models/footprint.js';
import type { Arch } from '../models/arch-names.js';
import { nativeSideOf } from './pipelines.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** Node, libtorch and the toolkit loaded, before any model: measured ~220 MiB. */
export const BASE_BYTES = 230 * MiB;
/**
 * What a command that loads images adds to the base whatever its settings: the loader's worker
 * thread (its own V8 heap, sharp) and the first evaluation's embeddings. The measured peaks sat
 * 50-110 MiB above the counted parts at small settings, and within 3% at large ones.
 */
export const TRAIN_EXTRA_BYTES = 64 * MiB;
export const INFERENCE_EXTRA_BYTES = 32 * MiB;
/**
 * Measured peak over counted activations: 1 fits (the counts name each tensor autograd keeps, and
 * the workspaces of oneDNN's kernels stayed within the residual above). Kept as named factors for
 * a backend that needs more (CUDA's caching allocator).
 */
export const TRAIN_ACTIVATION_FACTOR = 1;
export const INFERENCE_ACTIVATION_FACTOR = 1;
/** Batches the loader holds: its prefetch (2), the one in use and the pool's spares (loader.ts's BatchMemory). */
const LOADER_BATCHES = 5;
/** The share of the machine's memory the default limit allows. */
export const DEFAULT_LIMIT_SHARE = 0.9;

export interface MemoryEstimate {
  /** Node, libtorch and the loader's worker. */
  base: number;
  /** Weights, gradients and the optimizer's state. */
  parameters: number;
  /** What the forward keeps (training) or holds at once (inference), for the whole batch. */
  activations: number;
  /** The loader's float32 batch buffers. */
  pipeline: number;
  total: number;
}

/** `settings` of `cfg` as the message names them: "batchSize 128, data.imageSize 224". */
export function describeTraining(cfg: TrainConfig): string {
  const native = nativeSideOf(cfg);
  const side = native === undefined ? `data.imageSize ${cfg.data.imageSize}` : `the data's native ${native} px`;
  return `training ${cfg.model.arch} with batchSize ${cfg.batchSize} at ${side}`;
}

const estimate = (parts: Omit<MemoryEstimate, 'total'>): MemoryEstimate => ({
  ...parts,
  total: parts.base + parts.parameters + parts.activations + parts.pipeline,
});

/** Tensors per parameter: the weight, and in training its gradient and the optimizer's buffers. */
function tensorsPerParameter(optim: TrainConfig['optim']): number {
  if (optim.name === 'adamw') return 4;
  return optim.momentum > 0 ? 3 : 2;
}

/** The side the model sees: in-memory data of one native side (Fashion-MNIST's 28) ignores data.imageSize. */
const modelSide = (cfg: Pick<TrainConfig, 'data'>): number => nativeSideOf(cfg) ?? cfg.data.imageSize;

export interface TrainingShape {
  /** 0: not known yet (before the data is read): the classifier is not counted. */
  numClasses?: number;
  inChannels?: number;
  /** A multi-process run: the processes on this machine, each with its share of the global batch. */
  processes?: { onNode: number; world: number };
}

/** The working set of `dml train` with `cfg` on this machine. */
export function estimateTrainingMemory(cfg: TrainConfig, shape: TrainingShape = {}): MemoryEstimate {
  const { numClasses = 0, inChannels = 3, processes = { onNode: 1, world: 1 } } = shape;
  const side = modelSide(cfg);
  const fp = familyOfArch(cfg.model.arch).footprint({
    arch: cfg.model.arch,
    imageSize: side,
    inChannels,
    numClasses,
    numFeatures: cfg.model.numFeatures,
    remap: cfg.model.remap,
    smallInput: cfg.model.smallInput,
    patchSize: cfg.model.patchSize,
  });
  const batch = Math.ceil(cfg.batchSize / processes.world);
  const n = processes.onNode;
  return estimate({
    base: n * (BASE_BYTES + TRAIN_EXTRA_BYTES),
    parameters: n * 4 * fp.parameters * tensorsPerParameter(cfg.optim),
    activations: n * 4 * batch * fp.savedPerImage * TRAIN_ACTIVATION_FACTOR,
    pipeline: n * 4 * LOADER_BATCHES * batch * inChannels * side * side,
  });
}

/** The working set of embedding `batch` images at a time with a model (embed, eval, serve). */
export function estimateInferenceMemory(
  o: Omit<FootprintSpec, 'numClasses' | 'arch'> & { arch: Arch; batch: number; numClasses?: number },
): MemoryEstimate {
  const fp = familyOfArch(o.arch).footprint({ ...o, numClasses: o.numClasses ?? 0 });
  return estimate({
    base: BASE_BYTES + INFERENCE_EXTRA_BYTES,
    parameters: 4 * fp.parameters,
    activations: 4 * o.batch * fp.inferencePerImage * INFERENCE_ACTIVATION_FACTOR,
    pipeline: 4 * LOADER_BATCHES * o.batch * o.inChannels * o.imageSize * o.imageSize,
  });
}

export interface MemoryLimit {
  bytes: number;
  /** Where it comes from, for the message: "memoryLimitMB=4096", "90% of this machine's 23.4 GiB". */
  source: string;
}

/** 5.1 GiB, 300 MiB. */
export function formatMemory(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.ceil(bytes / MiB)} MiB`;
}

/**
 * The limit a setting of `mib` MiB (0: the default) gives. The default is a share of the machine's
 * memory, or of the cgroup's limit where that is lower (a container's), and not of what is free
 * at this moment: the check refuses settings that cannot fit here at all, and gives the same
 * answer for the same settings whatever else the machine is running.
 */
export function memoryLimit(mib: number, setting: string): MemoryLimit {
  if (mib > 0) return { bytes: mib * MiB, source: `${setting}=${mib}` };
  const machine = totalmem();
  const cgroup = constrainedMemory();
  const bounded = cgroup > 0 && cgroup < machine;
  const bytes = Math.floor(DEFAULT_LIMIT_SHARE * (bounded ? cgroup : machine));
  const of = bounded
    ? `this cgroup's memory limit (${formatMemory(cgroup)})`
    : `this machine's ${formatMemory(machine)}`;
  return { bytes, source: `the default, ${Math.round(DEFAULT_LIMIT_SHARE * 100)}% of ${of}; ${setting} sets it` };
}

/** A run refused by its memory budget: the CLI exits 2 with its message. */
export class MemoryBudgetError extends Error {
  constructor(
    message: string,
    readonly estimate: MemoryEstimate,
    readonly limit: MemoryLimit,
  ) {
    super(message);
    this.name = 'MemoryBudgetError';
  }
}

/**
 * Throws a MemoryBudgetError when `e` is over `limit`: `what` is what needs it ("training
 * resnet50 at 224 px, batchSize 512") and `change` the settings that lower it.
 */
export function checkMemoryBudget(e: MemoryEstimate, limit: MemoryLimit, what: string, change: string): void {
  if (e.total <= limit.bytes) return;
  throw new MemoryBudgetError(
    `${what} needs about ${formatMemory(e.total)} of memory (activations ${formatMemory(e.activations)}, ` +
      `parameters and their state ${formatMemory(e.parameters)}, batch buffers ${formatMemory(e.pipeline)}, ` +
      `libtorch and the loader ${formatMemory(e.base)}), more than the limit of ${formatMemory(limit.bytes)} ` +
      `(${limit.source}). ` +
      `${change}`,
    e,
    limit,
  );
}

/** What inference needs to know of a trained run: its configuration and its model's input channels. */
export interface InferenceRun {
  config: TrainConfig;
  model: { options: { inChannels: number } };
}

/** The working set of embedding `batch` images at a time with a trained run's model. */
function runInference(run: InferenceRun, batch: number, side = modelSide(run.config)): MemoryEstimate {
  const c = run.config;
  return estimateInferenceMemory({
    arch: c.model.arch,
    imageSize: side,
    inChannels: run.model.options.inChannels,
    batch,
    smallInput: c.model.smallInput,
    patchSize: c.model.patchSize,
    numFeatures: c.model.numFeatures,
    remap: c.model.remap,
  });
}

/**
 * Why embedding `batch` images at a time with a trained run's model would not fit `limitMiB` (0:
 * the default), or null; `flags` name the command's batch and limit options for the message.
 */
export function inferenceRefusal(
  run: InferenceRun,
  batch: number,
  limitMiB: number,
  flags: { batch: string; limit: string },
): string | null {
  const side = modelSide(run.config);
  try {
    checkMemoryBudget(
      runInference(run, batch),
      memoryLimit(limitMiB, flags.limit),
      `embedding ${flags.batch} ${batch} images at a time with ${run.config.model.arch} at ${side} px`,
      `Lower ${flags.batch}, or raise ${flags.limit} (MiB) if the estimate is wrong for this machine.`,
    );
    return null;
  } catch (err) {
    if (err instanceof MemoryBudgetError) return err.message;
    throw err;
  }
}

/**
 * The largest batch, `want` halved as often as needed, whose embedding pass fits the default
 * limit: for passes whose batch is the toolkit's choice, not the user's (evaluation, dml mi,
 * dml report), a smaller batch gives the same embeddings with less memory. At least 1.
 */
export function fittingBatch(run: InferenceRun, want: number): number {
  const limit = memoryLimit(0, 'memoryLimitMB').bytes;
  let batch = want;
  while (batch > 1 && runInference(run, batch).total > limit) batch = Math.ceil(batch / 2);
  return batch;
}

/**
 * A run's inference working set as fixed bytes (libtorch, the weights) plus bytes per image of a
 * batch, at model input side `side`: for a server, whose batches are its options.
 */
export function inferenceCost(run: InferenceRun, side: number): { fixed: number; perImage: number } {
  const one = runInference(run, 1, side).total;
  const perImage = runInference(run, 2, side).total - one;
  return { fixed: one - perImage, perImage };
}

/** A --memory-limit value: MiB, a positive number; undefined: 0, the default limit. */
export function parseMemoryLimit(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${flag} must be a positive number of MiB, got '${value}'`);
  return n;
}
