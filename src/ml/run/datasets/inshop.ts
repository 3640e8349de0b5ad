// In-Shop Clothes Retrieval (Liu et al.): train, and query against gallery with one shared class map.
import { prepareInShop } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { DINO_VIT_S16, IMAGENET_RESNET50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const inshop: DatasetSpec<'inshop'> = {
  kind: 'inshop',
  open: (cfg) => openLists(cfg, inshop, { queryGallery: true, missing: preparedListMissing('inshop') }),
  transforms: { family: 'inshop', resize: 'shorter-side' },
  prepare: {
    run: prepareInShop,
    help: 'Eval/list_eval_partition.txt: train, query and gallery with one shared class map',
  },
  presets: {
    inshop: {
      config: {
        model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
        optim: { lr: 0.003, momentum: 0.99, nesterov: true },
        epochs: 100,
        batchSize: 128,
        recallKs: [1, 10, 20, 30, 40, 50],
      },
      weights: IMAGENET_RESNET50,
    },
    'inshop-vit': {
      // train_inshop.yaml: 30 × 4, soft-margin triplets with hard mining, adamw 1e-5 (torch's default
      // weight decay 0.01).
      config: {
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
      },
      weights: DINO_VIT_S16,
    },
  },
};
