// CUB-200-2011 (Wah et al.): classes 1-100 train, 101-200 test, leave-one-out.
import { prepareCub } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { DINO_VIT_S16, IMAGENET_RESNET50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const cub: DatasetSpec<'cub'> = {
  kind: 'cub',
  open: (cfg) => openLists(cfg, cub, { queryGallery: false, missing: preparedListMissing('cub') }),
  transforms: { family: 'cub', resize: 'shorter-side' },
  prepare: {
    run: prepareCub,
    help: 'CUB_200_2011/images.txt + image_class_labels.txt: classes 1-100 train, 101-200 test',
  },
  presets: {
    cub: {
      config: {
        model: { arch: 'resnet50', dropout: 0.5 },
        optim: { lr: 0.02 },
        epochs: 30,
        batchSize: 128,
        recallKs: [1, 2, 4, 8, 16, 32],
      },
      weights: IMAGENET_RESNET50,
    },
    'cub-vit': {
      // train_cub.yaml: n_labels 8 × n_instances 4, soft-margin triplets (margin null), adam 1e-5.
      config: {
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
      },
      weights: DINO_VIT_S16,
    },
  },
};
