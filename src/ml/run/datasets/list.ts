// List files of 'path,label' lines: train and test (leave-one-out), or train, query and gallery.
import { openLists } from './image-sets.js';
import type { DatasetSpec } from './spec.js';

export const list: DatasetSpec<'list'> = {
  kind: 'list',
  open: (cfg) =>
    openLists(cfg, list, {
      queryGallery: cfg.data.query !== '',
      missing: (key) =>
        `data.kind=list needs ${key}: a file of 'path,label' lines (paths relative to the file); data.train and ` +
        `data.test, or data.query and data.gallery`,
    }),
  // CUB's transforms: a general-purpose choice for photos of any aspect.
  transforms: { family: 'cub', resize: 'shorter-side' },
};
