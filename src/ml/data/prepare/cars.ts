// Cars-196 → the reference split: classes 1-98 train (labels 0-97), 99-196 test (98-195), read
// from cars_annos.mat (the `test` flag of the official split is ignored, as in the reference).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { matNumber, matString, readMat } from '../matlab.js';
import { finish, type ListEntry, type Prepared, type PrepareOptions } from './common.js';

function carsDir(root: string): string {
  for (const d of [root, path.join(root, 'CARS_196')]) if (existsSync(path.join(d, 'cars_annos.mat'))) return d;
  throw new Error(`${root}: not a Cars-196 folder (no cars_annos.mat here or in CARS_196/)`);
}

/** root: the folder holding cars_annos.mat and car_ims/. */
export function prepareCars(root: string, opts: PrepareOptions = {}): Prepared {
  const dir = carsDir(root);
  const file = path.join(dir, 'cars_annos.mat');
  const annotations = readMat(file).get('annotations');
  if (!annotations || annotations.kind !== 'struct') {
    throw new Error(`${file}: expected a struct array 'annotations', found ${annotations ? annotations.kind : 'none'}`);
  }
  for (const f of ['relative_im_path', 'class']) {
    if (!annotations.fieldNames.includes(f))
      throw new Error(`${file}: 'annotations' has no field '${f}' (fields: ${annotations.fieldNames.join(', ')})`);
  }
  // Keyed by path like the reference's dict: a repeated path keeps its first position, last label.
  const byPath = new Map<string, ListEntry>();
  annotations.elements.forEach((a, i) => {
    const where = `${file}: annotations(${i + 1})`;
    const rel = matString(a['relative_im_path'], `${where}.relative_im_path`);
    const cls = matNumber(a['class'], `${where}.class`);
    if (!Number.isInteger(cls) || cls < 1 || cls > 196)
      throw new Error(`${where}.class: ${cls} is not a class number in 1..196`);
    byPath.set(rel, { file: path.join(dir, rel), label: cls - 1, where });
  });
  if (byPath.size === 0) throw new Error(`${file}: 'annotations' is empty`);
  const entries = [...byPath.values()];
  return finish(dir, opts, { train: entries.filter((e) => e.label < 98), test: entries.filter((e) => e.label >= 98) });
}
