// In-Shop Clothes Retrieval → the reference split: train / query / gallery from
// list_eval_partition.txt, with item ids numbered 0.. in order of first appearance over the whole
// file (one class map shared by the three lists).
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  finish,
  locate,
  parseIntField,
  readLines,
  type ListEntry,
  type Prepared,
  type PrepareOptions,
} from './common.js';

const PARTITIONS = ['train', 'query', 'gallery'] as const;

/**
 * root: the In-Shop folder holding img/ and either Eval/list_eval_partition.txt (the original
 * layout) or list_eval_partition.txt (the reference's layout). Writes train.txt, query.txt, gallery.txt.
 */
export function prepareInShop(root: string, opts: PrepareOptions = {}): Prepared {
  const file = locate(root, ['Eval/list_eval_partition.txt', 'list_eval_partition.txt'], 'list_eval_partition.txt');
  const lines = readLines(file);
  // Line 1: the number of images; line 2: the column names.
  const countLine = lines.shift(),
    header = lines.shift();
  if (!countLine || !header) throw new Error(`${file}: expected a count line and a header line`);
  const declared = parseIntField(countLine.text, `${file}:${countLine.line}`, 'image count');
  if (declared !== lines.length)
    throw new Error(`${file}:${countLine.line}: declares ${declared} images, the file lists ${lines.length}`);
  const classOf = new Map<string, number>();
  const splits: Record<(typeof PARTITIONS)[number], ListEntry[]> = { train: [], query: [], gallery: [] };
  for (const { text, line } of lines) {
    const where = `${file}:${line}`;
    const cols = text.split(/\s+/);
    if (cols.length !== 3) throw new Error(`${where}: expected 'image_name item_id evaluation_status', got '${text}'`);
    const [img, item, status] = cols as [string, string, string];
    if (!(PARTITIONS as readonly string[]).includes(status))
      throw new Error(`${where}: evaluation_status must be train, query or gallery, got '${status}'`);
    if (!classOf.has(item)) classOf.set(item, classOf.size);
    splits[status as (typeof PARTITIONS)[number]].push({
      file: path.join(root, img),
      label: classOf.get(item)!,
      where,
    });
  }
  for (const p of PARTITIONS) if (splits[p].length === 0) throw new Error(`${file}: no '${p}' images`);
  if (!existsSync(path.join(root, 'img')) && (opts.verify ?? true))
    throw new Error(`${root}: no img/ folder (extract img.zip here)`);
  return finish(root, opts, splits);
}
