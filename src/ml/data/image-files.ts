// The images to embed: a tree of class subfolders (ImageFolder's layout, labelled by folder) or a
// flat folder of images without classes; a list of 'path,label' lines or of bare paths. A user
// embedding a photo collection has unlabelled images far more often than a labelled tree.
import { readdirSync, statSync } from 'node:fs';
import { readInputTextSync } from '../../engine/serialize/input-gate.js';
import path from 'node:path';
import { IMAGE_EXTENSIONS, readImageFolder, readList, type LabeledSamples } from './list.js';

/** The label an embeddings file gives an image of no class (scikit-learn's mark of unlabelled samples). */
export const UNLABELLED = -1;

export interface FolderImages extends LabeledSamples {
  /** False for a flat folder: every sample's label is 0 for the loader, UNLABELLED in what is written. */
  labelled: boolean;
}

/**
 * A folder's images: by class when it has subfolders (images lying beside them are left out, with a
 * warning), else the images directly in it, sorted by name, without classes.
 */
export function readFolderImages(dir: string, warn: (message: string) => void = (m) => console.warn(m)): FolderImages {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new Error(`${dir}: cannot list folder: ${(e as Error).message}`, { cause: e });
  }
  const isFolder = (n: string): boolean => {
    try {
      return statSync(path.join(dir, n)).isDirectory();
    } catch {
      return false;
    }
  };
  const exts = new Set(IMAGE_EXTENSIONS.map((e) => e.toLowerCase()));
  const loose = names.filter((n) => exts.has(path.extname(n).toLowerCase()) && !isFolder(n));
  if (names.some(isFolder)) {
    if (loose.length > 0)
      warn(`${dir}: ${loose.length} image(s) beside the class subfolders are in no class and are left out`);
    return { ...readImageFolder(dir, IMAGE_EXTENSIONS, warn), labelled: true };
  }
  if (loose.length === 0) throw new Error(`${dir}: no images (${[...exts].join(' ')}) and no class subfolders`);
  return { samples: loose.map((n) => ({ path: path.join(dir, n), label: 0 })), classNames: [], labelled: false };
}

/** The lines of a list that hold data (not blank, not # comments), with their numbers. */
const dataLines = (text: string): [number, string][] =>
  text
    .split(/\r?\n/)
    .map((l, i): [number, string] => [i + 1, l.trim()])
    .filter(([, l]) => l !== '' && !l.startsWith('#'));

/**
 * A list file's images: 'path,label' lines as readList reads them, or, when no line has a label, one
 * image path per line without classes (relative paths from the list's folder).
 */
export function readListImages(file: string): FolderImages {
  // Read once, and tested for a labelled line before it is split: a list of a million lines
  // cost 1.1 GB when it was split into numbered lines and then read and parsed again by readList.
  const text = readInputTextSync(file, { format: 'list', from: '--list' });
  if (/,\s*-?\d+[ \t\r]*$/m.test(text)) return { ...readList(file, '--list', text), labelled: true };
  const lines = dataLines(text);
  if (lines.length === 0) return { ...readList(file, '--list', text), labelled: true };
  // No line has a label: a list of bare paths, each plainly an image's.
  const exts = new Set(IMAGE_EXTENSIONS.map((e) => e.toLowerCase()));
  const bad = lines.find(
    ([, l]) =>
      l.length > 8192 || [...l].some((c) => c < ' ' || c === '\x7f') || !exts.has(path.extname(l).toLowerCase()),
  );
  if (bad)
    throw new Error(
      `${file}:${bad[0]}: expected an image's path (a list of bare paths) or 'path,label' lines, got ` +
        JSON.stringify(bad[1].length > 120 ? `${bad[1].slice(0, 120)}…` : bad[1]),
    );
  const dir = path.dirname(path.resolve(file));
  const samples = lines.map(([, p]) => ({ path: path.isAbsolute(p) ? p : path.join(dir, p), label: 0 }));
  return { samples, classNames: [], labelled: false };
}
