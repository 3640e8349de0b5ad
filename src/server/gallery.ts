// The gallery a server searches: a `path,label` list file or an image-folder tree, read with the
// data track's readers (src/ml/data/list.ts) so errors name file:line the same way. Items are
// addressed by their position in the list (the index id); the API never takes a path from a
// request, so a list's `..` entries are reachable only as the items the operator listed.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { checkInputFile } from '../engine/serialize/input-gate.js';
import path from 'node:path';
import { readImageFolder, readList, type LabeledSamples } from '../ml/data/list.js';

export interface GalleryItem {
  /** Index id: position in the gallery, 0-based. */
  id: number;
  /** Absolute path of the image on this machine (never sent to clients). */
  file: string;
  /** Path relative to the gallery's folder, for display. */
  path: string;
  /** Class name: the list's original label or the class folder's name. */
  label: string;
  /** Contiguous class index 0..C-1. */
  classIndex: number;
  /** Where the item was declared (`list:line`), for error messages. */
  where: string;
}

export interface Gallery {
  /** The list file or folder it was read from, as given. */
  source: string;
  kind: 'list' | 'folder';
  items: GalleryItem[];
  classNames: string[];
}

/** Reads a gallery from a list file or a folder tree (decided by what the path is). */
export function loadGallery(source: string): Gallery {
  const st = statSync(source, { throwIfNoEntry: false });
  if (!st) throw new Error(`gallery ${source} does not exist`);
  const kind = st.isDirectory() ? 'folder' : 'list';
  // A FIFO or a device named as the gallery is refused here, by what it is, before anything opens it.
  if (kind === 'list') checkInputFile(source, { format: 'list', from: '--gallery' });
  const read: LabeledSamples = kind === 'folder' ? readImageFolder(source) : readList(source);
  const base = kind === 'folder' ? path.resolve(source) : path.dirname(path.resolve(source));
  const items = read.samples.map((s, id): GalleryItem => ({
    id,
    file: path.resolve(s.path),
    path: path.relative(base, path.resolve(s.path)).split(path.sep).join('/'),
    label: read.classNames[s.label]!,
    classIndex: s.label,
    where: s.where ?? s.path,
  }));
  return { source, kind, items, classNames: read.classNames };
}

/**
 * A digest of what the gallery's embeddings depend on: each item's path, label, size and mtime.
 * An index cache whose fingerprint differs is stale (a file was added, removed, relabelled or
 * rewritten) and is rebuilt.
 */
export function galleryFingerprint(g: Gallery): string {
  const h = createHash('sha256');
  for (const it of g.items) {
    const st = statSync(it.file, { throwIfNoEntry: false });
    h.update(`${it.file}\0${it.label}\0${st ? `${st.size}:${Math.trunc(st.mtimeMs)}` : 'missing'}\n`);
  }
  return h.digest('hex');
}
