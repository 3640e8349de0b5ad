// Training configuration: presets reproducing the paper's runs, a config file (JSON or YAML) and
// key=value overrides, validated with errors that name the offending key.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join as joinPath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Arch } from '../models/arch-names.js';
import { editDistance } from '../did-you-mean.js';
import {
  CONFIG_KEY_LIST,
  checkValue,
  configDefaults,
  type ConfigKeyName,
  type DATASETS,
  type SCHEDULES,
} from './config-keys.js';

export type DatasetKind = (typeof DATASETS)[number];
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface TrainConfig {
  preset: string;
  data: {
    kind: DatasetKind;
    /** Folder with the dataset (prepared lists for cub/cars/sop/inshop, IDX files for fashion-mnist). */
    root: string;
    /** For kind=list/folder: training list or folder, and test (or query + gallery) ones. */
    train: string;
    test: string;
    query: string;
    gallery: string;
    imageSize: number;
    resize: number;
    workers: number;
    /**
     * Keep images in memory after their first load: 'encoded' (file bytes) or 'decoded' (pixels after Resize); image
     * datasets only.
     */
    cache: 'none' | 'encoded' | 'decoded';
    /** Stop adding to each loader's cache past this many MiB (0: no limit). */
    cacheMB: number;
    skipBad: boolean;
    /** Use only the first N training samples (0 = all); for quick runs. */
    limitTrain: number;
    limitTest: number;
  };
  model: {
    arch: Arch;
    pretrained: string;
    numFeatures: number;
    normLayer: 'none' | 'batch' | 'layer';
    remap: boolean;
    dropout: number;
    detach: boolean;
    normalize: boolean;
    normalizeWeight: boolean;
    setBnEval: boolean;
    zeroInitResidual: boolean;
    smallInput: boolean;
    /** Memory layout of convolution weights and activations: NCHW or channels-last (NHWC strides). */
    memoryFormat: 'auto' | 'contiguousFormat' | 'channelsLast';
    /** ViTs: the patch projection (conv_proj) is not trained. */
    freezePatchEmbed: boolean;
    /** ViTs: patch size (0: the arch's), class token or patch-token mean, stochastic depth of the last block. */
    patchSize: number;
    pool: 'token' | 'mean';
    dropPathRate: number;
  };
  loss: {
    /** A name from src/ml/losses (smooth-ce, cross-entropy, norm-softmax, triplet, multi-similarity, ...). */
    name: string;
    /**
     * PyTorch's label_smoothing for `cross-entropy` (1 - ls on the true class plus ls / C on every
     * class); default 0. The paper's ε (smooth-ce: ε / (C - 1) on the other classes) is
     * loss.options.epsilon, default 0.1. Any other loss refuses a non-zero value.
     */
    labelSmoothing: number;
    /** For pairwise losses: class-balanced batches with this many samples per class. */
    samplesPerClass: number;
    /** The loss's own options (margin, scale, temperature, ...), passed through to createLoss. */
    options: Record<string, number | string | boolean>;
  };
  /** A miner for the losses on mined tuples, built by createMiner; name '' leaves the loss's own. */
  miner: {
    name: string;
    options: Record<string, number | string | boolean>;
  };
  optim: {
    /** sgd (the paper's) or adamw (the ViT recipes'). */
    name: 'sgd' | 'adamw';
    lr: number;
    momentum: number;
    nesterov: boolean;
    weightDecay: number;
    noBiasDecay: boolean;
    schedule: ScheduleKind;
    lrStep: number;
    /** ViTs: layer-wise lr decay (each block down from the head multiplies the lr by it; 1 = off). */
    layerDecay: number;
  };
  /** Multi-process runs (dml train --nproc-per-node N, or torchrun's variables); ignored in one process. */
  distributed: {
    /** BatchNorm statistics over the global batch (torch.nn.SyncBatchNorm); default off, as in DDP. */
    syncBn: boolean;
    /** Seconds the rendezvous and each collective wait for the other ranks before the run stops. */
    timeout: number;
    /** Gradient all-reduce bucket size in MiB (DDP's bucket_cap_mb). */
    bucketMB: number;
    /**
     * Start each bucket's all-reduce during the backward pass (DDP's overlap). Off by default: on
     * 2 cores it measured 0.91-0.99x of all-reducing after backward (bench/distributed).
     */
    overlap: boolean;
    /** c10d backend: gloo (CPU tensors) or nccl (CUDA tensors; needs a CUDA libtorch with NCCL). */
    backend: string;
  };
  epochs: number;
  /** The global batch: a multi-process run splits it across ranks. */
  batchSize: number;
  seed: number;
  threads: number;
  device: string;
  recallKs: number[];
  evalEvery: number;
  out: string;
  logEvery: number;
}

/** Every leaf of TrainConfig as a dotted name ('loss.options' and 'miner.options' are leaves). */
type Paths<T> = {
  [K in keyof T & string]: K extends 'options'
    ? K
    : T[K] extends readonly unknown[]
      ? K
      : T[K] extends object
        ? `${K}.${Paths<T[K]>}`
        : K;
}[keyof T & string];
// Compile-time: the key table and TrainConfig name the same keys (an error here names the odd one).
const tableCoversConfig: [Exclude<Paths<TrainConfig>, ConfigKeyName>] extends [never]
  ? true
  : Exclude<Paths<TrainConfig>, ConfigKeyName> = true;
const configCoversTable: [Exclude<ConfigKeyName, Paths<TrainConfig>>] extends [never]
  ? true
  : Exclude<ConfigKeyName, Paths<TrainConfig>> = true;
void tableCoversConfig;
void configCoversTable;

/** The defaults of config-keys.ts. */
const base = configDefaults() as unknown as TrainConfig;

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

/** The paper's four runs, their ViT counterparts and the built-in Fashion-MNIST default. */
export const PRESETS: Record<string, DeepPartial<TrainConfig>> = {
  // Runs in a few minutes on 2 CPU cores: ResNet-18 with its standard stem (28 px → 7 px after the
  // stem keeps it cheap), BN feature norm, 3 epochs. See fashion-mnist-parity for the baseline's model.
  'fashion-mnist': {
    data: { kind: 'fashion-mnist' },
    model: { arch: 'resnet18', normLayer: 'batch', setBnEval: false, zeroInitResidual: false, smallInput: false },
    optim: { lr: 0.05, momentum: 0.9, nesterov: true },
    epochs: 2,
    batchSize: 128,
    recallKs: [1, 2, 4, 8],
    out: 'runs/fashion-mnist',
  },
  // ../shared/baselines/torch_reference.py: 3×3 stem, no max-pool, 28 px, batch 128, lr 0.05.
  'fashion-mnist-parity': {
    data: { kind: 'fashion-mnist' },
    model: { arch: 'resnet18', normLayer: 'batch', setBnEval: false, zeroInitResidual: false, smallInput: true },
    optim: { lr: 0.05, momentum: 0.9, nesterov: true },
    epochs: 3,
    batchSize: 128,
    recallKs: [1, 2, 4, 8],
    out: 'runs/fashion-mnist-parity',
  },
  cub: {
    data: { kind: 'cub' },
    model: { arch: 'resnet50', dropout: 0.5 },
    optim: { lr: 0.02 },
    epochs: 30,
    batchSize: 128,
    recallKs: [1, 2, 4, 8, 16, 32],
    out: 'runs/cub',
  },
  cars: {
    data: { kind: 'cars' },
    model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
    optim: { lr: 0.05 },
    epochs: 100,
    batchSize: 128,
    recallKs: [1, 2, 4, 8, 16, 32],
    out: 'runs/cars',
  },
  sop: {
    data: { kind: 'sop' },
    model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
    optim: { lr: 0.003, momentum: 0.99, nesterov: true },
    epochs: 100,
    batchSize: 128,
    recallKs: [1, 10, 100, 1000],
    out: 'runs/sop',
  },
  inshop: {
    data: { kind: 'inshop' },
    model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
    optim: { lr: 0.003, momentum: 0.99, nesterov: true },
    epochs: 100,
    batchSize: 128,
    recallKs: [1, 10, 20, 30, 40, 50],
    out: 'runs/inshop',
  },
  // ViT recipes: Open Metric Learning's published training configs for its DINO ViT-S/16 extractors,
  // pipelines/features_extraction/extractor_{cub,cars,sop,inshop}/train_*.yaml (OML-Team/
  // open-metric-learning): backbone vits16 with DINO weights, its 384-d class token as the
  // embedding (no remap), triplet loss on Euclidean distances of the raw features, Adam lr 1e-5 with no
  // schedule, class-balanced batches. Substitutions, because this toolkit lacks the original part:
  // OML's 'triplets_with_memory' miner (cub) becomes batch-all triplets; its category-balanced sampler
  // (sop, inshop) a class-balanced one; OML trains until stopped (max_epochs 10000, keeping the best
  // R@1), the epoch counts below are this toolkit's budget. Transforms are this toolkit's
  // RandomResizedCrop/flip/jitter, not OML's albumentations set.
  'cub-vit': {
    // train_cub.yaml: n_labels 8 × n_instances 4, soft-margin triplets (margin null), adam 1e-5.
    data: { kind: 'cub' },
    model: { arch: 'vit_small_patch16' },
    loss: {
      name: 'triplet',
      samplesPerClass: 4,
      options: { smooth: true, margin: 0, distance: 'euclidean', mining: 'all', reducer: 'mean' },
    },
    optim: { name: 'adamw', lr: 1e-5, weightDecay: 0, schedule: 'none' },
    epochs: 40,
    batchSize: 32,
    recallKs: [1, 2, 4, 8, 16, 32],
    out: 'runs/cub-vit',
  },
  'cars-vit': {
    // train_cars.yaml: 20 × 10, soft-margin triplets over all triplets of the batch, adam 1e-5.
    data: { kind: 'cars' },
    model: { arch: 'vit_small_patch16' },
    loss: {
      name: 'triplet',
      samplesPerClass: 10,
      options: { smooth: true, margin: 0, distance: 'euclidean', mining: 'all', reducer: 'mean' },
    },
    optim: { name: 'adamw', lr: 1e-5, weightDecay: 0, schedule: 'none' },
    epochs: 40,
    batchSize: 200,
    recallKs: [1, 2, 4, 8, 16, 32],
    out: 'runs/cars-vit',
  },
  'sop-vit': {
    // train_sop.yaml: 32 × 6, normalised features, triplets margin 0.15 with hard mining, adam 1e-5.
    data: { kind: 'sop' },
    model: { arch: 'vit_small_patch16', normalize: true },
    loss: {
      name: 'triplet',
      samplesPerClass: 6,
      options: { margin: 0.15, distance: 'euclidean', mining: 'hard', reducer: 'mean' },
    },
    optim: { name: 'adamw', lr: 1e-5, weightDecay: 0, schedule: 'none' },
    epochs: 20,
    batchSize: 192,
    recallKs: [1, 10, 100, 1000],
    out: 'runs/sop-vit',
  },
  'inshop-vit': {
    // train_inshop.yaml: 30 × 4, soft-margin triplets with hard mining, adamw 1e-5 (torch's default
    // weight decay 0.01).
    data: { kind: 'inshop' },
    model: { arch: 'vit_small_patch16' },
    loss: {
      name: 'triplet',
      samplesPerClass: 4,
      options: { smooth: true, margin: 0, distance: 'euclidean', mining: 'hard', reducer: 'mean' },
    },
    optim: { name: 'adamw', lr: 1e-5, weightDecay: 0.01, schedule: 'none' },
    epochs: 20,
    batchSize: 120,
    recallKs: [1, 10, 20, 30, 40, 50],
    out: 'runs/inshop-vit',
  },
};

/**
 * The weights each preset's recipe starts from. Nothing is downloaded: `dml train` warns when one
 * of these presets runs without `model.pretrained`, since its figures assume them.
 */
export const PRESET_WEIGHTS: Record<string, string> = {
  cub: "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)",
  cars: "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)",
  sop: "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)",
  inshop: "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)",
  'cub-vit': "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)",
  'cars-vit': "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)",
  'sop-vit': "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)",
  'inshop-vit': "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)",
};

/** The free-form option maps (their entries are whatever the loss or miner reads). */
const OPTION_KEYS = new Set(CONFIG_KEY_LIST.filter((k) => k.type === 'options').map((k) => k.key));

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * " (did you mean optim.lr?)" for a key a letter or two away from real ones, or from the same key in another section.
 */
function didYouMean(key: string): string {
  const last = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  const near = CONFIG_KEY_LIST.map((k) => k.key).filter(
    (k) =>
      editDistance(k.toLowerCase(), key.toLowerCase()) <= 2 || k.slice(k.lastIndexOf('.') + 1).toLowerCase() === last,
  );
  return near.length > 0 && near.length <= 4 ? ` (did you mean ${near.join(' or ')}?)` : '';
}

/** Merges src into dst, refusing keys dst does not have and values of another type. */
function merge(dst: Record<string, unknown>, src: Record<string, unknown>, where: string, path = ''): void {
  for (const [k, v] of Object.entries(src)) {
    const key = path ? `${path}.${k}` : k;
    // Own keys only: '__proto__' or 'constructor' must be unknown keys, not a way into Object.prototype.
    if (!Object.hasOwn(dst, k)) throw new Error(`${where}: unknown config key '${key}'${didYouMean(key)}`);
    const cur = dst[k];
    if (OPTION_KEYS.has(key)) {
      if (!isObject(v) || Object.values(v).some((x) => !['number', 'string', 'boolean'].includes(typeof x))) {
        throw new Error(`${where}: '${key}' must map names to numbers, strings or booleans`);
      }
      dst[k] = { ...(cur as object), ...v };
    } else if (isObject(cur)) {
      if (!isObject(v)) throw new Error(`${where}: '${key}' must be an object`);
      merge(cur, v, where, key);
    } else if (Array.isArray(cur)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== typeof cur[0]))
        throw new Error(`${where}: '${key}' must be an array of ${typeof cur[0]}`);
      dst[k] = [...v];
    } else {
      if (typeof v !== typeof cur)
        throw new Error(`${where}: '${key}' must be a ${typeof cur}, got ${JSON.stringify(v)}`);
      dst[k] = v;
    }
  }
}

/** Parses "a.b=value" into a nested object, reading the value as the type the key has in base. */
export function parseOverride(arg: string, current: TrainConfig): Record<string, unknown> {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`override '${arg}': expected key=value`);
  const path = arg.slice(0, eq).split('.');
  const raw = arg.slice(eq + 1);
  if (path.length === 3 && OPTION_KEYS.has(`${path[0]}.${path[1]}`)) {
    // Free-form options: numbers and booleans by their look, anything else a string.
    const value =
      raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw.trim() !== '' && Number.isFinite(Number(raw))
            ? Number(raw)
            : raw;
    return { [path[0]!]: { options: { [path[2]!]: value } } };
  }
  let cur: unknown = current;
  for (const p of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, p))
      throw new Error(`override '${arg}': unknown config key '${path.join('.')}'${didYouMean(path.join('.'))}`);
    cur = cur[p];
  }
  let value: unknown;
  if (typeof cur === 'number') {
    value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value))
      throw new Error(`override '${arg}': '${path.join('.')}' needs a number`);
  } else if (typeof cur === 'boolean') {
    if (raw !== 'true' && raw !== 'false')
      throw new Error(`override '${arg}': '${path.join('.')}' needs true or false`);
    value = raw === 'true';
  } else if (Array.isArray(cur)) {
    value = raw.split(',').map((s) => Number(s));
    if ((value as number[]).some((n) => !Number.isFinite(n)))
      throw new Error(`override '${arg}': '${path.join('.')}' needs comma-separated numbers`);
  } else if (isObject(cur)) {
    throw new Error(`override '${arg}': '${path.join('.')}' is a section; set one of its keys`);
  } else value = raw;
  const out: Record<string, unknown> = {};
  let node = out;
  path.forEach((p, i) => {
    if (i === path.length - 1) node[p] = value;
    else {
      node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
  });
  return out;
}

export function loadConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  let v: unknown;
  try {
    v = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: cannot parse config: ${(e as Error).message}`, { cause: e });
  }
  if (!isObject(v)) throw new Error(`${path}: config must be an object at the top level`);
  return v;
}

/** preset (default fashion-mnist) ← config file ← key=value overrides. */
export function resolveConfig(o: { preset?: string; file?: string; overrides?: string[] } = {}): TrainConfig {
  const cfg = structuredClone(base);
  const fileCfg = o.file ? loadConfigFile(o.file) : {};
  const presetName = o.preset ?? (typeof fileCfg.preset === 'string' ? fileCfg.preset : 'fashion-mnist');
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`unknown preset '${presetName}' (available: ${Object.keys(PRESETS).join(', ')})`);
  merge(cfg as unknown as Record<string, unknown>, preset as Record<string, unknown>, `preset ${presetName}`);
  cfg.preset = presetName;
  if (o.file) merge(cfg as unknown as Record<string, unknown>, fileCfg, o.file);
  for (const arg of o.overrides ?? [])
    merge(cfg as unknown as Record<string, unknown>, parseOverride(arg, cfg), `override '${arg}'`);
  expandHome(cfg);
  try {
    validate(cfg);
  } catch (e) {
    throw new Error(
      `${originOf((e as Error).message, o.overrides ?? [], o.file, fileCfg, presetName)}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return cfg;
}

/** Where the value a validation error is about came from: the last override of its key, the file or the preset. */
function originOf(
  message: string,
  overrides: readonly string[],
  file: string | undefined,
  fileCfg: Record<string, unknown>,
  preset: string,
): string {
  const key = /^config: (?:unknown )?'?([A-Za-z][\w.]*)/.exec(message)?.[1];
  if (key === undefined) return 'configuration';
  const arg = [...overrides].reverse().find((a) => a.slice(0, a.indexOf('=')) === key);
  if (arg !== undefined) return `override '${arg.length > 80 ? `${arg.slice(0, 80)}…` : arg}'`;
  let node: unknown = fileCfg;
  for (const part of key.split('.'))
    node =
      typeof node === 'object' && node !== null && Object.hasOwn(node, part)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  if (file !== undefined && node !== undefined) return file;
  return `preset ${preset}`;
}

/**
 * `~` and `~/...` in path keys mean the home folder, as in a shell: `data.root=~/data` is not
 * expanded by the shell (the word is not a variable assignment), and used to fail with ENOENT.
 */
function expandHome(c: TrainConfig): void {
  const home = (p: string): string =>
    p === '~' ? homedir() : p.startsWith('~/') ? joinPath(homedir(), p.slice(2)) : p;
  for (const k of ['root', 'train', 'test', 'query', 'gallery'] as const) c.data[k] = home(c.data[k]);
  c.model.pretrained = home(c.model.pretrained);
  c.out = home(c.out);
}

function validate(c: TrainConfig): void {
  for (const k of CONFIG_KEY_LIST) {
    let v: unknown = c;
    for (const part of k.key.split('.')) v = (v as Record<string, unknown>)[part];
    const why = checkValue(k, v);
    if (why !== null) throw new Error(`config: ${why}`);
  }
  // Rules between keys.
  if ((c.optim.schedule === 'step' || c.optim.schedule === 'warmstep') && !(c.optim.lrStep > 0)) {
    throw new Error(
      `config: 'optim.lrStep' must be > 0 (epochs between steps) with optim.schedule=${c.optim.schedule}`,
    );
  }
  if (c.miner.name === '' && Object.keys(c.miner.options).length > 0)
    throw new Error("config: 'miner.options' is set but 'miner.name' is empty (which miner should take them?)");
  if (c.loss.labelSmoothing > 0 && c.loss.name !== 'cross-entropy') {
    // One name, one formula: this key is PyTorch's label_smoothing; the paper's ε has its own name.
    const hint =
      c.loss.name === 'smooth-ce'
        ? "smooth-ce's ε (the paper's: 1 - ε on the true class, ε / (C - 1) on each other) is loss.options.epsilon " +
          '(default 0.1)'
        : `loss '${c.loss.name}' has no label smoothing`;
    throw new Error(
      `config: 'loss.labelSmoothing' is PyTorch's label_smoothing and only loss.name=cross-entropy takes it; ${hint}`,
    );
  }
}

/** A config subtree as key=value overrides, so a checkpoint's settings can be replayed. */
export function toOverrides(obj: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v)) out.push(`${key}=${v.join(',')}`);
    else if (typeof v === 'object' && v !== null) out.push(...toOverrides(v as Record<string, unknown>, key));
    else out.push(`${key}=${String(v)}`);
  }
  return out;
}
