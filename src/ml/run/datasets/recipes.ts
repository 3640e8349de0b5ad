// The recipes several datasets' presets follow, and the weights they start from. Nothing is
// downloaded: `dml train` warns when such a preset runs without model.pretrained, since its figures
// assume them.
import type { DatasetPreset } from './spec.js';

/** The paper's ResNet-50 runs (dml_cross_entropy) start from torchvision's ImageNet release. */
export const IMAGENET_RESNET50 = "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)";
export const DINO_VIT_S16 = "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)";

/** The paper's runs: ResNet-50 from ImageNet, dropout 0.5 before the classifier, SGD, batches of 128. */
export function paperResNet50(o: {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  normLayer?: 'batch';
  epochs: number;
  recallKs: number[];
}): DatasetPreset {
  const { lr, momentum, nesterov, normLayer, epochs, recallKs } = o;
  return {
    config: {
      model: { arch: 'resnet50', dropout: 0.5, ...(normLayer ? { normLayer } : {}) },
      optim: { lr, ...(momentum !== undefined ? { momentum } : {}), ...(nesterov !== undefined ? { nesterov } : {}) },
      epochs,
      batchSize: 128,
      recallKs,
    },
    weights: IMAGENET_RESNET50,
  };
}

/**
 * Open Metric Learning's published training configs for its DINO ViT-S/16 extractors,
 * pipelines/features_extraction/extractor_{cub,cars,sop,inshop}/train_*.yaml (OML-Team/
 * open-metric-learning): backbone vits16 with DINO weights, its 384-d class token as the embedding
 * (no remap), triplet loss on Euclidean distances of the raw features, Adam lr 1e-5 with no schedule,
 * batches of `classes` × `samplesPerClass`. Substitutions, because this toolkit lacks the original
 * part: OML's 'triplets_with_memory' miner (cub) becomes batch-all triplets; its category-balanced
 * sampler (sop, inshop) a class-balanced one; OML trains until stopped (max_epochs 10000, keeping the
 * best R@1), the epoch counts are this toolkit's budget. Transforms are this toolkit's
 * RandomResizedCrop/flip/jitter, not OML's albumentations set.
 */
export function omlVitS16(o: {
  classes: number;
  samplesPerClass: number;
  /** 'soft': the soft-margin triplet (OML's margin null), else the hinge's margin. */
  margin: number | 'soft';
  mining: 'all' | 'hard';
  normalize?: boolean;
  weightDecay?: number;
  epochs: number;
  recallKs: number[];
}): DatasetPreset {
  const margin = o.margin === 'soft' ? { smooth: true, margin: 0 } : { margin: o.margin };
  return {
    config: {
      model: { arch: 'vit_small_patch16', ...(o.normalize ? { normalize: true } : {}) },
      loss: {
        name: 'triplet',
        samplesPerClass: o.samplesPerClass,
        options: { ...margin, distance: 'euclidean', mining: o.mining, reducer: 'mean' },
      },
      optim: { name: 'adamw', lr: 1e-5, weightDecay: o.weightDecay ?? 0, schedule: 'none' },
      epochs: o.epochs,
      batchSize: o.classes * o.samplesPerClass,
      recallKs: o.recallKs,
    },
    weights: DINO_VIT_S16,
  };
}
