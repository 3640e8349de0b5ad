// Cars-196 (Krause et al.): classes 1-98 train, 99-196 test, leave-one-out; squashed to a square.
import { prepareCars } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { omlVitS16, paperResNet50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const cars: DatasetSpec<'cars'> = {
  kind: 'cars',
  open: (cfg) => openLists(cfg, cars, { queryGallery: false, missing: preparedListMissing('cars') }),
  transforms: { family: 'cars', resize: 'square' },
  prepare: { run: prepareCars, help: 'cars_annos.mat (MATLAB v5): classes 1-98 train, 99-196 test' },
  presets: {
    cars: paperResNet50({ lr: 0.05, normLayer: 'batch', epochs: 100, recallKs: [1, 2, 4, 8, 16, 32] }),
    // train_cars.yaml: 20 × 10, soft-margin triplets over all triplets of the batch, adam 1e-5.
    'cars-vit': omlVitS16({
      classes: 20,
      samplesPerClass: 10,
      margin: 'soft',
      mining: 'all',
      epochs: 40,
      recallKs: [1, 2, 4, 8, 16, 32],
    }),
  },
};
