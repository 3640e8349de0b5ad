// Cars-196 (Krause et al.): classes 1-98 train, 99-196 test, leave-one-out; squashed to a square.
import { prepareCars } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { DINO_VIT_S16, IMAGENET_RESNET50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const cars: DatasetSpec<'cars'> = {
  kind: 'cars',
  open: (cfg) => openLists(cfg, cars, { queryGallery: false, missing: preparedListMissing('cars') }),
  transforms: { family: 'cars', resize: 'square' },
  prepare: { run: prepareCars, help: 'cars_annos.mat (MATLAB v5): classes 1-98 train, 99-196 test' },
  presets: {
    cars: {
      config: {
        model: { arch: 'resnet50', dropout: 0.5, normLayer: 'batch' },
        optim: { lr: 0.05 },
        epochs: 100,
        batchSize: 128,
        recallKs: [1, 2, 4, 8, 16, 32],
      },
      weights: IMAGENET_RESNET50,
    },
    'cars-vit': {
      // train_cars.yaml: 20 × 10, soft-margin triplets over all triplets of the batch, adam 1e-5.
      config: {
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
      },
      weights: DINO_VIT_S16,
    },
  },
};
