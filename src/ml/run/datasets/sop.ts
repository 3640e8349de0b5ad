// Stanford Online Products (Oh Song et al.): Ebay_train / Ebay_test, leave-one-out; squashed to a square.
import { prepareSop } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { omlVitS16, paperResNet50 } from './recipes.js';
import type { DatasetSpec } from './spec.js';

export const sop: DatasetSpec<'sop'> = {
  kind: 'sop',
  open: (cfg) => openLists(cfg, sop, { queryGallery: false, missing: preparedListMissing('sop') }),
  transforms: { family: 'sop', resize: 'square' },
  prepare: { run: prepareSop, help: 'Stanford_Online_Products/Ebay_train.txt, Ebay_test.txt' },
  presets: {
    sop: paperResNet50({
      lr: 0.003,
      momentum: 0.99,
      nesterov: true,
      normLayer: 'batch',
      epochs: 100,
      recallKs: [1, 10, 100, 1000],
    }),
    // train_sop.yaml: 32 × 6, normalised features, triplets margin 0.15 with hard mining, adam 1e-5.
    'sop-vit': omlVitS16({
      classes: 32,
      samplesPerClass: 6,
      margin: 0.15,
      mining: 'hard',
      normalize: true,
      epochs: 20,
      recallKs: [1, 10, 100, 1000],
    }),
  },
};
