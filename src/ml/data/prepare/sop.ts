// Stanford Online Products → the reference split: Ebay_train.txt / Ebay_test.txt, label = class_id - 1.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { finish, parseIntField, readLines, type ListEntry, type Prepared, type PrepareOptions } from './common.js';

function sopDir(root: string): string {
  if (existsSync(path.join(root, 'Ebay_train.txt'))) return root;
  const inner = path.join(root, 'Stanford_Online_Products');
  if (existsSync(path.join(inner, 'Ebay_train.txt'))) return inner;
  throw new Error(
    `${root}: not a Stanford Online Products folder (no Ebay_train.txt here or in Stanford_Online_Products/)`,
  );
}

/** One Ebay_*.txt file: a header line, then `image_id class_id super_class_id path`. */
function readEbay(file: string, dir: string): ListEntry[] {
  const lines = readLines(file);
  const header = lines.shift();
  if (!header || !/^image_id\s+class_id\s+super_class_id\s+path$/.test(header.text)) {
    throw new Error(
      `${file}:${header?.line ?? 1}: expected the header 'image_id class_id super_class_id path', got '` +
        `${header?.text ?? ''}'`,
    );
  }
  return lines.map(({ text, line }) => {
    const where = `${file}:${line}`;
    const cols = text.split(/\s+/);
    if (cols.length !== 4) throw new Error(`${where}: expected 4 columns, got ${cols.length}: '${text}'`);
    const cls = parseIntField(cols[1], where, 'class_id');
    if (cls < 1) throw new Error(`${where}: class_id ${cls} must be >= 1`);
    return { file: path.join(dir, cols[3]!), label: cls - 1, where };
  });
}

export function prepareSop(root: string, opts: PrepareOptions = {}): Prepared {
  const dir = sopDir(root);
  const train = readEbay(path.join(dir, 'Ebay_train.txt'), dir);
  const test = readEbay(path.join(dir, 'Ebay_test.txt'), dir);
  return finish(dir, opts, { train, test });
}
