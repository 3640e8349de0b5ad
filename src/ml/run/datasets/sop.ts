// Stanford Online Products (Oh Song et al.): Ebay_train / Ebay_test, leave-one-out; squashed to a square.
import { prepareSop } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { DINO_VIT_S16, IMAGENET_RESNET50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const sop: DatasetSpec<'sop'> = {
  kind: 'sop',
  open: (cfg) => openLists(cfg, sop, { queryGallery: false, missing: preparedListMissing('sop') }),
  transforms: { family: 'sop', resize: 'square' },
  prepare: { run: prepareSop, help: 'Stanford_Online_Products/Ebay_train.txt, Ebay_test.txt' },
  presets: {
    sop: {
      config: {
        model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
        optim: { lr: 0.003, momentum: 0.99, nesterov: true },
        epochs: 100,
        batchSize: 128,
        recallKs: [1, 10, 100, 1000],
      },
      weights: IMAGENET_RESNET50,
    },
    'sop-vit': {
      // train_sop.yaml: 32 × 6, normalised features, triplets margin 0.15 with hard mining, adam 1e-5.
      config: {
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
      },
      weights: DINO_VIT_S16,
    },
  },
};
