// Dataset lists: `path,label` list files (the reference's train.txt / test.txt format) and
// image-folder trees (one subfolder per class). Labels come out contiguous, 0..C-1, with the map
// back to the original labels / folder names.
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { readInputTextSync } from '../../engine/serialize/input-gate.js';
import path from 'node:path';

export interface Sample {
  /** Absolute (or as given, when the list held an absolute path) path of the image. */
  path: string;
  label: number;
  /** Where the sample was declared, `file:line`, for error messages. */
  where?: string;
}

export interface LabeledSamples {
  samples: Sample[];
  /** classNames[k] is the original label (list files) or folder name (trees) of class k. */
  classNames: string[];
}

interface RawEntry {
  path: string;
  original: number;
  where: string;
}

const INT_RE = /^[+-]?\d+$/;
/** Longest list line: a Linux path is at most 4096 bytes (PATH_MAX), a label a few digits. */
const MAX_LINE = 8192;
/** A line quoted in an error, cut so that a hostile list cannot make the message megabytes long. */
const quoteLine = (s: string): string => (s.length > 120 ? `${s.slice(0, 120)}… (${s.length} characters)` : s);

function parseListFile(file: string, from?: string, read?: string): RawEntry[] {
  const text = read ?? readInputTextSync(file, { format: 'list', from });
  const dir = path.dirname(path.resolve(file));
  const out: RawEntry[] = [];
  let sawData = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    if (line.length > MAX_LINE)
      throw new Error(
        `${where}: the line is ${line.length} characters long (a 'path,label' line has at most ${MAX_LINE})`,
      );
    // The last comma splits, so paths with commas survive.
    const comma = line.lastIndexOf(',');
    const p = comma < 0 ? '' : line.slice(0, comma).trim();
    const l = comma < 0 ? '' : line.slice(comma + 1).trim();
    if (!INT_RE.test(l) || p === '') {
      // A header ('path,label') is allowed once, as the first non-comment line; a numeric but
      // non-integer label is a data error, not a header.
      if (!sawData && comma >= 0 && (l === '' || Number.isNaN(Number(l)))) {
        sawData = true;
        continue;
      }
      throw new Error(`${where}: expected 'path,label' with an integer label, got '${quoteLine(line)}'`);
    }
    sawData = true;
    const original = Number(l);
    if (!Number.isSafeInteger(original)) throw new Error(`${where}: label ${l} is out of range`);
    out.push({ path: path.isAbsolute(p) ? p : path.join(dir, p), original, where });
  }
  return out;
}

/** Maps the sorted original labels of all the lists to one 0..C-1 range. */
function remap(entries: RawEntry[][]): { lists: Sample[][]; classNames: string[] } {
  const originals = [...new Set(entries.flat().map((e) => e.original))].sort((a, b) => a - b);
  const index = new Map(originals.map((o, k) => [o, k]));
  const lists = entries.map((es) => es.map((e) => ({ path: e.path, label: index.get(e.original)!, where: e.where })));
  return { lists, classNames: originals.map(String) };
}

/**
 * Reads a list file of `path,label` lines: blank lines and `#` comments are skipped, a first
 * non-integer-label line is taken as a header, relative paths are resolved against the list
 * file's folder. Errors name `file:line`, and `from` (the argument or key that named the file),
 * when given, in the input gate's refusals. `text`: the file's contents, when the caller has read them.
 */
export function readList(file: string, from?: string, text?: string): LabeledSamples {
  const entries = parseListFile(file, from, text);
  if (entries.length === 0) throw new Error(`${file}: the list has no samples`);
  const r = remap([entries]);
  return { samples: r.lists[0]!, classNames: r.classNames };
}

/**
 * Reads several list files with one shared class map (In-Shop's query and gallery must agree on
 * what class k is). Returns one sample list per file.
 */
export function readLists(files: readonly string[]): { lists: Sample[][]; classNames: string[] } {
  const entries = files.map((f) => {
    const e = parseListFile(f);
    if (e.length === 0) throw new Error(`${f}: the list has no samples`);
    return e;
  });
  return remap(entries);
}

export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.png',
  '.ppm',
  '.bmp',
  '.pgm',
  '.tif',
  '.tiff',
  '.webp',
  '.gif',
];

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A folder entry whose name is valid UTF-8 (a JS string can name it). */
interface Entry {
  name: string;
  path: string;
  /** A folder, following symbolic links; a broken or looping link is not (it reads as a bad image). */
  folder: boolean;
}

/** Escapes a name's bytes for a message (invalid UTF-8 cannot be printed as it is). */
function showBytes(dir: string, raw: Buffer): string {
  return path.join(
    dir,
    [...raw]
      .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
      .join(''),
  );
}

/**
 * The entries of a folder, sorted by name. Names that are not valid UTF-8 cannot be opened through a
 * JS string (it would name another, missing file): they are skipped with a warning.
 */
function entriesOf(dir: string, warn: (message: string) => void, what: string): Entry[] {
  let raw: Buffer[];
  try {
    raw = readdirSync(dir, { encoding: 'buffer' });
  } catch (e) {
    throw new Error(`${dir}: cannot list ${what}: ${(e as Error).message}`, { cause: e });
  }
  const out: Entry[] = [];
  for (const r of raw) {
    const name = r.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(r)) {
      warn(`skipping ${showBytes(dir, r)}: its name is not valid UTF-8`);
      continue;
    }
    const p = path.join(dir, name);
    let folder: boolean;
    try {
      folder = statSync(p).isDirectory();
    } catch {
      folder = false;
    }
    out.push({ name, path: p, folder });
  }
  return out.sort((a, b) => byCodePoint(a.name, b.name));
}

/** Images below dir; `seen` holds the real paths walked, so a link back up the tree is not followed again. */
function walkImages(
  dir: string,
  exts: ReadonlySet<string>,
  out: string[],
  seen: Set<string>,
  warn: (message: string) => void,
): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    throw new Error(`${dir}: cannot list folder: ${(e as Error).message}`, { cause: e });
  }
  if (seen.has(real)) return;
  seen.add(real);
  for (const ent of entriesOf(dir, warn, 'folder')) {
    if (ent.folder) walkImages(ent.path, exts, out, seen, warn);
    else if (exts.has(path.extname(ent.name).toLowerCase())) out.push(ent.path);
  }
}

/**
 * An image-folder tree, torchvision's ImageFolder layout: one subfolder per class (sorted by name,
 * class k = k-th folder), images anywhere below it, sorted by path. Entries whose names are not
 * valid UTF-8 are skipped, each with a warning (`warn`, default console.warn).
 */
export function readImageFolder(
  root: string,
  extensions: readonly string[] = IMAGE_EXTENSIONS,
  warn: (message: string) => void = (m) => console.warn(m),
): LabeledSamples {
  const exts = new Set(extensions.map((e) => e.toLowerCase()));
  const classNames = entriesOf(root, warn, 'image folder')
    .filter((e) => e.folder)
    .map((e) => e.name);
  if (classNames.length === 0) throw new Error(`${root}: no class subfolders`);
  const samples: Sample[] = [];
  classNames.forEach((name, label) => {
    const files: string[] = [];
    walkImages(path.join(root, name), exts, files, new Set(), warn);
    for (const f of files) samples.push({ path: f, label });
  });
  if (samples.length === 0)
    throw new Error(`${root}: no images with extensions ${[...exts].join(' ')} below the class folders`);
  return { samples, classNames };
}

/** The labels of a sample list as an Int32Array, in order. */
export function labelsOf(samples: readonly Sample[]): Int32Array {
  return Int32Array.from(samples, (s) => s.label);
}
