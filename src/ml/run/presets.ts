// The presets: the paper's runs, their ViT counterparts and the built-in Fashion-MNIST default, as
// partial configurations that resolveConfig starts from.
import type { TrainConfig } from './config/keys.js';

export type DeepPartial<T> = {
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
