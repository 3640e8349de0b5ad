// Every key of the training configuration, once: its type, default, range and meaning. TrainConfig,
// the defaults of resolveConfig, the per-key parsing and checks, `dml train --help` and the README's
// key table are all derived from this list, so a key cannot exist without a documented type and range.
import { availableParallelism } from 'node:os';
import { MAX_THREADS } from '../../../engine/threads.js';
import { MAX_IMAGE_SIDE, MAX_MODEL_INPUT_SIDE } from '../../data/limits.js';
import { LOSS_NAMES } from '../../losses/registry.js';
import { ARCH_NAMES } from '../../models/arch-names.js';
import { DATASET_KINDS } from '../datasets/index.js';

/** How a key's value is written and checked: each has one parser in key-types.ts. */
export type ConfigKeyType = 'int' | 'number' | 'boolean' | 'string' | 'path' | 'ints' | 'options';
export type ConfigValue =
  number | string | boolean | readonly number[] | Readonly<Record<string, number | string | boolean>>;

export interface ConfigKey {
  /** Dotted path, as written in overrides (`optim.lr=0.01`). */
  readonly key: string;
  readonly type: ConfigKeyType;
  readonly default: ConfigValue;
  /** The default as the docs show it, where the value depends on the machine. */
  readonly defaultText?: string;
  readonly doc: string;
  /** Inclusive bounds unless the open flags say otherwise (numbers, and each element of 'ints'). */
  readonly min?: number;
  readonly max?: number;
  readonly openMin?: boolean;
  readonly openMax?: boolean;
  readonly choices?: readonly string[];
  /** For strings without a fixed list of choices: the accepted form, and how to say it. */
  readonly pattern?: RegExp;
  readonly patternText?: string;
}

/** The upper bound that reads as "no limit" (∞ in the docs). */
export const BIG = Number.MAX_SAFE_INTEGER;
export const SCHEDULES = ['warmcos', 'cos', 'step', 'warmstep', 'none'] as const;

export const CONFIG_KEYS = [
  {
    key: 'preset',
    type: 'string',
    default: 'fashion-mnist',
    doc:
      'the preset the other keys start from (--preset, or this key in a config file); none: the defaults of this ' +
      'table. Unnamed: fashion-mnist for Fashion-MNIST, none for any other data.kind',
  },
  {
    key: 'data.kind',
    type: 'string',
    default: 'fashion-mnist',
    choices: DATASET_KINDS,
    doc:
      "dataset: the built-in Fashion-MNIST, the paper's four (prepared by dml prepare), a list file or a folder " +
      'of class subfolders',
  },
  {
    key: 'data.root',
    type: 'path',
    default: '',
    doc:
      'folder of the dataset (IDX files for fashion-mnist, prepared lists for cub/cars/sop/inshop); empty: the ' +
      "Debian package's Fashion-MNIST",
  },
  {
    key: 'data.train',
    type: 'path',
    default: '',
    doc: 'kind=list: training list file (path,label lines); kind=folder: training folder',
  },
  {
    key: 'data.test',
    type: 'path',
    default: '',
    doc: 'kind=list/folder: test list or folder (query = gallery, the query itself excluded)',
  },
  {
    key: 'data.query',
    type: 'path',
    default: '',
    doc: 'kind=list/folder: query list or folder (with data.gallery, instead of data.test)',
  },
  { key: 'data.gallery', type: 'path', default: '', doc: 'kind=list/folder: gallery list or folder' },
  {
    key: 'data.imageSize',
    type: 'int',
    default: 224,
    min: 1,
    // The side embed, eval, serve and export accept: a model trained larger could not be run.
    max: MAX_MODEL_INPUT_SIDE,
    doc: 'side of the square crop the model sees (28 for Fashion-MNIST presets)',
  },
  {
    key: 'data.resize',
    type: 'int',
    default: 256,
    min: 0,
    max: MAX_IMAGE_SIDE,
    doc: 'shorter side before the test centre crop (0: no resize)',
  },
  {
    key: 'data.workers',
    type: 'int',
    default: 2,
    min: 0,
    max: 256,
    doc: 'image decoding and augmentation threads (0: in the main thread)',
  },
  {
    key: 'data.cache',
    type: 'string',
    default: 'none',
    choices: ['none', 'encoded', 'decoded'],
    doc: 'keep images in memory after their first load: the file bytes or the resized pixels',
  },
  {
    key: 'data.cacheMB',
    type: 'number',
    default: 0,
    min: 0,
    max: BIG,
    doc: "stop adding to each loader's cache past this many MiB (0: no limit)",
  },
  {
    key: 'data.skipBad',
    type: 'boolean',
    default: false,
    doc: 'skip unreadable images with a warning instead of stopping',
  },
  {
    key: 'data.limitTrain',
    type: 'int',
    default: 0,
    min: 0,
    max: BIG,
    doc: 'use only the first N training samples (0: all); for quick runs',
  },
  {
    key: 'data.limitTest',
    type: 'int',
    default: 0,
    min: 0,
    max: BIG,
    doc: 'use only the first N test samples (0: all)',
  },
  {
    key: 'model.arch',
    type: 'string',
    default: 'resnet50',
    choices: ARCH_NAMES,
    doc: 'backbone, as torchvision builds it (its state dict keys): ResNets, or ViTs (ViT-Ti/S/B, patch 16 or 8)',
  },
  {
    key: 'model.pretrained',
    type: 'path',
    default: '',
    doc: 'torchvision ResNet weights (torch.save file or safetensors); every backbone key must match',
  },
  {
    key: 'model.numFeatures',
    type: 'int',
    default: 0,
    min: 0,
    max: 1 << 16,
    doc: "embedding size after a linear remap (0: the backbone's width)",
  },
  {
    key: 'model.normLayer',
    type: 'string',
    default: 'none',
    choices: ['none', 'batch', 'layer'],
    doc: "non-affine feature normalisation before the classifier (the paper's BatchNorm1d or LayerNorm)",
  },
  {
    key: 'model.remap',
    type: 'boolean',
    default: false,
    doc: "linear layer from the backbone's features to numFeatures",
  },
  {
    key: 'model.dropout',
    type: 'number',
    default: 0,
    min: 0,
    max: 1,
    openMax: true,
    doc: 'dropout on the features before the classifier',
  },
  {
    key: 'model.detach',
    type: 'boolean',
    default: false,
    doc: "train only the classifier (the backbone's gradients are cut)",
  },
  { key: 'model.normalize', type: 'boolean', default: false, doc: 'L2-normalise the features fed to the classifier' },
  {
    key: 'model.normalizeWeight',
    type: 'boolean',
    default: false,
    doc: "L2-normalise the classifier's rows (cosine logits)",
  },
  {
    key: 'model.setBnEval',
    type: 'boolean',
    default: true,
    doc: "keep the backbone's BatchNorm2d frozen (running statistics and affine parameters), as the paper",
  },
  {
    key: 'model.zeroInitResidual',
    type: 'boolean',
    default: true,
    doc: 'zero the last BatchNorm of each residual block when not pretrained',
  },
  {
    key: 'model.smallInput',
    type: 'boolean',
    default: false,
    doc: 'ResNets: 3×3 stem without max-pool, for 28-32 px images',
  },
  {
    key: 'model.memoryFormat',
    type: 'string',
    default: 'auto',
    choices: ['auto', 'contiguousFormat', 'channelsLast'],
    doc:
      'ResNets: memory layout of convolutions, NCHW or channels-last (NHWC strides); same results within float ' +
      'tolerance. auto: channels-last for ResNet-50/101/ResNeXt-50 at 128 px and up (faster in bench/engine), ' +
      'NCHW otherwise',
  },
  {
    key: 'model.freezePatchEmbed',
    type: 'boolean',
    default: false,
    doc: 'ViTs: keep the patch projection (conv_proj) as loaded',
  },
  {
    key: 'model.patchSize',
    type: 'int',
    default: 0,
    min: 0,
    max: 1024,
    doc: "ViTs: patch size (0: the arch's, e.g. 16 for vit_small_patch16); 4 suits 28-px images",
  },
  {
    key: 'model.pool',
    type: 'string',
    default: 'token',
    choices: ['token', 'mean'],
    doc: 'ViTs: the embedding is the class token or the mean of the patch tokens',
  },
  {
    key: 'model.dropPathRate',
    type: 'number',
    default: 0,
    min: 0,
    max: 1,
    openMax: true,
    doc: "ViTs: stochastic depth of the last block, rising linearly from 0 (timm's drop_path_rate)",
  },
  {
    key: 'loss.name',
    type: 'string',
    default: 'smooth-ce',
    choices: LOSS_NAMES,
    doc: "the loss: the paper's smooth-ce, other classifier losses, or pairwise ones (README's list of losses)",
  },
  {
    key: 'loss.labelSmoothing',
    type: 'number',
    default: 0,
    min: 0,
    max: 1,
    doc:
      "PyTorch's label_smoothing, cross-entropy only: 1 − ls on the true class plus ls / C on every class. The " +
      "paper's ε (smooth-ce, ε / (C − 1) on the others) is loss.options.epsilon (default 0.1)",
  },
  {
    key: 'loss.samplesPerClass',
    type: 'int',
    default: 4,
    min: 1,
    max: BIG,
    doc: 'pairwise losses: class-balanced batches with this many samples per class',
  },
  {
    key: 'loss.options',
    type: 'options',
    default: {},
    doc: "the loss's own options (loss.options.margin=0.1, ...); unknown ones are refused by the loss",
  },
  {
    key: 'loss.memory.size',
    type: 'int',
    default: 0,
    min: 0,
    max: BIG,
    doc:
      'cross-batch memory (XBM): this many past embeddings, with their labels, are kept and every batch is ' +
      'compared with them (pair losses that take a reference set; at least batchSize; 0: off)',
  },
  {
    key: 'loss.memory.start',
    type: 'int',
    default: 0,
    min: 0,
    max: BIG,
    doc:
      'training steps with the batch alone before the memory is filled and used (the XBM paper waits for the ' +
      'embeddings to drift slowly)',
  },
  {
    key: 'miner.name',
    type: 'string',
    default: '',
    doc:
      'a miner for a loss on mined pairs or triplets (triplet-margin, batch-hard, multi-similarity, angular, ' +
      'batch-easy-hard, distance-weighted, hdc, pair-margin, uniform-histogram, packaged-triplets); empty: the ' +
      "loss's own choice; checked when the run starts",
  },
  {
    key: 'miner.options',
    type: 'options',
    default: {},
    doc: "the miner's options (miner.options.epsilon=0.1, ...); random miners are seeded from seed",
  },
  {
    key: 'optim.name',
    type: 'string',
    default: 'sgd',
    choices: ['sgd', 'adamw'],
    doc: "optimiser: SGD with momentum (the paper's) or AdamW (β 0.9, 0.999; optim.weightDecay is its decoupled decay)",
  },
  {
    key: 'optim.lr',
    type: 'number',
    default: 0.02,
    min: 0,
    openMin: true,
    doc: 'SGD learning rate (peak of the schedule)',
  },
  { key: 'optim.momentum', type: 'number', default: 0.9, min: 0, max: 1, openMax: true, doc: 'SGD momentum' },
  { key: 'optim.nesterov', type: 'boolean', default: false, doc: 'Nesterov momentum' },
  { key: 'optim.weightDecay', type: 'number', default: 5e-4, min: 0, max: BIG, doc: 'L2 weight decay' },
  {
    key: 'optim.noBiasDecay',
    type: 'boolean',
    default: true,
    doc: 'no weight decay on 1-D parameters (biases, norms)',
  },
  {
    key: 'optim.schedule',
    type: 'string',
    default: 'warmcos',
    choices: SCHEDULES,
    doc:
      'per-iteration lr factor; warmcos = min((i+1)/W, (1+cos(π i/total))/2), warmstep = min((i+1)/W, step); W = ' +
      "the paper's 100 steps of warm-up, capped at a quarter of the total steps",
  },
  {
    key: 'optim.lrStep',
    type: 'number',
    default: 0,
    min: 0,
    max: BIG,
    doc: 'step schedules: epochs between ×0.1 steps (needed by step and warmstep)',
  },
  {
    key: 'optim.layerDecay',
    type: 'number',
    default: 1,
    min: 0,
    openMin: true,
    max: 1,
    doc: 'ViTs: layer-wise lr decay, lr × layerDecay^(depth below the head) per block (BEiT/MAE fine-tuning); 1: off',
  },
  {
    key: 'distributed.syncBn',
    type: 'boolean',
    default: false,
    doc: 'multi-process runs: BatchNorm statistics over the global batch (SyncBatchNorm)',
  },
  {
    key: 'distributed.timeout',
    type: 'number',
    default: 60,
    min: 0,
    openMin: true,
    max: BIG,
    doc: 'seconds the rendezvous and each collective wait for the other ranks',
  },
  {
    key: 'distributed.bucketMB',
    type: 'number',
    default: 25,
    min: 0,
    openMin: true,
    max: BIG,
    doc: "gradient all-reduce bucket size in MiB (DDP's bucket_cap_mb)",
  },
  {
    key: 'distributed.overlap',
    type: 'boolean',
    default: false,
    doc: "start each bucket's all-reduce during backward (measured slower on 2 cores)",
  },
  {
    key: 'distributed.backend',
    type: 'string',
    default: 'auto',
    choices: ['auto', 'gloo', 'nccl'],
    doc: 'c10d backend: auto is nccl when the run is on CUDA (each rank on cuda:LOCAL_RANK), else gloo',
  },
  { key: 'epochs', type: 'int', default: 30, min: 1, max: BIG, doc: 'passes over the training set' },
  {
    key: 'batchSize',
    type: 'int',
    default: 128,
    min: 1,
    max: BIG,
    doc: 'the global batch (split across the ranks of a multi-process run)',
  },
  {
    key: 'memoryLimitMB',
    type: 'number',
    default: 0,
    min: 0,
    max: BIG,
    doc:
      'refuse a run whose estimated working set (model, optimizer state, batchSize × data.imageSize² ' +
      "activations) is over this many MiB, before any data loads (0: 90% of the machine's or cgroup's memory)",
  },
  {
    key: 'seed',
    type: 'int',
    default: 0,
    min: 0,
    max: 2 ** 32 - 1,
    doc: 'seed of initialisation, sampling and augmentation',
  },
  {
    key: 'threads',
    type: 'int',
    default: Math.min(availableParallelism(), MAX_THREADS),
    defaultText: 'cores',
    min: 1,
    max: MAX_THREADS,
    doc: 'libtorch intra-op threads (a launch of N processes gives each cores / N)',
  },
  {
    key: 'device',
    type: 'string',
    default: 'cpu',
    pattern: /^(cpu|auto|cuda(:\d+)?)$/,
    patternText: 'cpu, auto, cuda or cuda:N',
    doc:
      'where to train: auto is cuda when the libtorch has CUDA and a GPU is visible, else cpu; cuda needs a CUDA ' +
      'libtorch (LIBTORCH=...) and is refused otherwise',
  },
  {
    key: 'amp',
    type: 'string',
    default: 'off',
    choices: ['off', 'bf16', 'fp16'],
    doc: 'mixed precision on CUDA (autocast; fp16 with a gradient scaler); refused on the CPU, where it was slower',
  },
  {
    key: 'recallKs',
    type: 'ints',
    default: [1, 2, 4, 8],
    min: 1,
    max: BIG,
    doc: 'the K of Recall@K (comma-separated in overrides)',
  },
  {
    key: 'evalEvery',
    type: 'int',
    default: 1,
    min: 0,
    max: BIG,
    doc: 'evaluate every N epochs (0: only after the last)',
  },
  {
    key: 'out',
    type: 'path',
    default: 'runs/latest',
    defaultText: 'runs/<preset>',
    doc:
      "run folder: checkpoints, metrics.jsonl, config.yaml. Default: the preset's, runs/<preset>; with preset " +
      "none, runs/<the data's folder name> (data.root's, or the folder holding data.train and data.test)",
  },
  {
    key: 'logEvery',
    type: 'int',
    default: 10,
    min: 1,
    max: BIG,
    doc: 'steps between logged losses (and CE/PCE measurements)',
  },
] as const satisfies readonly ConfigKey[];

type Entry = (typeof CONFIG_KEYS)[number];

/** What a key's parser yields: the TypeScript type of its value. */
type ValueOf<E> = E extends { readonly type: 'int' | 'number' }
  ? number
  : E extends { readonly type: 'boolean' }
    ? boolean
    : E extends { readonly type: 'ints' }
      ? number[]
      : E extends { readonly type: 'options' }
        ? Record<string, number | string | boolean>
        : E extends { readonly choices: readonly (infer C)[] }
          ? C
          : string;

type Head<K> = K extends `${infer S}.${string}` ? S : K;
/** The next part of each key under a section (the top-level names under ''): `loss` → name, options, memory. */
type ChildOf<K, P extends string> = P extends '' ? Head<K> : K extends `${P}.${infer R}` ? Head<R> : never;
type Join<P extends string, C extends string> = P extends '' ? C : `${P}.${C}`;
/** A section of the table as an object: its keys' values, and its sub-sections (`loss.memory`) as objects. */
type Section<P extends string> = {
  [C in ChildOf<Entry['key'], P>]: [Extract<Entry, { key: Join<P, C> }>] extends [never]
    ? Section<Join<P, C>>
    : ValueOf<Extract<Entry, { key: Join<P, C> }>>;
};

/**
 * The resolved configuration, derived from the table (as LossOptionsByName is from the loss specs):
 * `optim.lr` is `cfg.optim.lr: number`, a key with choices is the union of them, `loss.memory.size` is
 * `cfg.loss.memory.size`.
 */
export type TrainConfig = Section<''>;

/** Every key's dotted name, as a type. */
export type ConfigKeyName = Entry['key'];

/** The same list, typed for iteration. */
export const CONFIG_KEY_LIST: readonly ConfigKey[] = CONFIG_KEYS;
const BY_KEY = new Map(CONFIG_KEY_LIST.map((k) => [k.key, k]));

export function configKey(key: string): ConfigKey | undefined {
  return BY_KEY.get(key);
}

/** Whether a dotted name is a section of keys (`optim`), not a key itself. */
export function isSection(name: string): boolean {
  return CONFIG_KEY_LIST.some((k) => k.key.startsWith(`${name}.`));
}

/** The defaults as one nested object (the shape of TrainConfig). */
export function configDefaults(): TrainConfig {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEY_LIST) setKey(out, k.key, structuredClone(k.default));
  return out as TrainConfig;
}

/** The value at a dotted key of a nested object (undefined where a part is missing). */
export function getKey(obj: object, key: string): unknown {
  let node: unknown = obj;
  for (const part of key.split('.'))
    node =
      typeof node === 'object' && node !== null && Object.hasOwn(node, part)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  return node;
}

/** Sets a dotted key of a nested object, making the sections on the way. */
export function setKey(obj: object, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}
