// In-Shop Clothes Retrieval (Liu et al.): train, and query against gallery with one shared class map.
import { prepareInShop } from '../../data/prepare/index.js';
import { openLists, preparedListMissing } from './image-sets.js';
import { omlVitS16, paperResNet50 } from './recipes.js';
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
    inshop: paperResNet50({
      lr: 0.003,
      momentum: 0.99,
      nesterov: true,
      normLayer: 'batch',
      epochs: 100,
      recallKs: [1, 10, 20, 30, 40, 50],
    }),
    // train_inshop.yaml: 30 × 4, soft-margin triplets with hard mining, adamw 1e-5 (torch's default
    // weight decay 0.01).
    'inshop-vit': omlVitS16({
      classes: 30,
      samplesPerClass: 4,
      margin: 'soft',
      mining: 'hard',
      weightDecay: 0.01,
      epochs: 20,
      recallKs: [1, 10, 20, 30, 40, 50],
    }),
  },
};
