// CUB-200-2011 (Wah et al.): classes 1-100 train, 101-200 test, leave-one-out.
import { prepareCub } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { omlVitS16, paperResNet50 } from './recipes.js';
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
    cub: paperResNet50({ lr: 0.02, epochs: 30, recallKs: [1, 2, 4, 8, 16, 32] }),
    // train_cub.yaml: n_labels 8 × n_instances 4, soft-margin triplets (margin null), adam 1e-5.
    'cub-vit': omlVitS16({
      classes: 8,
      samplesPerClass: 4,
      margin: 'soft',
      mining: 'all',
      epochs: 40,
      recallKs: [1, 2, 4, 8, 16, 32],
    }),
  },
};
