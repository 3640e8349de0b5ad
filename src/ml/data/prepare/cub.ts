// CUB-200-2011 → the reference split: classes 1-100 train (labels 0-99), 101-200 test (100-199).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { finish, parseIntField, readLines, type ListEntry, type Prepared, type PrepareOptions } from './common.js';

/** The CUB_200_2011 folder, given it or its parent. */
function cubDir(root: string): string {
  if (existsSync(path.join(root, 'images.txt'))) return root;
  const inner = path.join(root, 'CUB_200_2011');
  if (existsSync(path.join(inner, 'images.txt'))) return inner;
  throw new Error(`${root}: not a CUB-200-2011 folder (no images.txt here or in CUB_200_2011/)`);
}

/**
 * Reads images.txt (`id relative/path`) and image_class_labels.txt (`id class`, 1-based), and
 * writes train.txt / test.txt with paths under images/.
 */
export function prepareCub(root: string, opts: PrepareOptions = {}): Prepared {
  const dir = cubDir(root);
  const imagesFile = path.join(dir, 'images.txt');
  const labelsFile = path.join(dir, 'image_class_labels.txt');
  const classOf = new Map<number, number>();
  if (existsSync(labelsFile)) {
    for (const { text, line } of readLines(labelsFile)) {
      const where = `${labelsFile}:${line}`;
      const [id, cls] = text.split(/\s+/);
      classOf.set(parseIntField(id, where, 'image id'), parseIntField(cls, where, 'class id'));
    }
  }
  const train: ListEntry[] = [],
    test: ListEntry[] = [];
  for (const { text, line } of readLines(imagesFile)) {
    const where = `${imagesFile}:${line}`;
    const [idText, rel] = text.split(/\s+/);
    if (rel === undefined) throw new Error(`${where}: expected 'image_id path', got '${text}'`);
    const id = parseIntField(idText, where, 'image id');
    // The reference takes the class from the folder prefix ("017.Cardinal/..."); the labels file
    // says the same thing and is preferred when present.
    const cls = classOf.get(id) ?? parseIntField(rel.split('.')[0], where, 'class prefix in the path');
    if (classOf.size > 0 && !classOf.has(id)) throw new Error(`${where}: image id ${id} has no entry in ${labelsFile}`);
    if (cls < 1 || cls > 200) throw new Error(`${where}: class ${cls} is outside 1..200`);
    const label = cls - 1;
    (label < 100 ? train : test).push({ file: path.join(dir, 'images', rel), label, where });
  }
  if (train.length === 0 || test.length === 0)
    throw new Error(`${imagesFile}: the split is empty (train ${train.length}, test ${test.length})`);
  return finish(dir, opts, { train, test });
}
