// Folders with one subfolder of images per class: data.train for training, data.test to test on.
import { openFolders } from './image-sets.js';
import type { DatasetSpec } from './spec.js';

export const folder: DatasetSpec<'folder'> = {
  kind: 'folder',
  open: (cfg) => openFolders(cfg, folder),
  // CUB's transforms: a general-purpose choice for photos of any aspect.
  transforms: { family: 'cub', resize: 'shorter-side' },
};
