// Shared by the dataset preparers: reading the original annotation files and writing the
// reference's `path,label` list files.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { checkInputFile, readInputTextSync } from '../../../engine/serialize/input-gate.js';
import { writeError } from '../../../engine/serialize/file-io.js';
import path from 'node:path';

export interface PrepareOptions {
  /** Folder for the list files (default: the dataset folder, as the reference does). */
  outDir?: string;
  /** Check that every listed image exists (default true): catches a wrong root early. */
  verify?: boolean;
}

export interface ListEntry {
  /** Absolute image path. */
  file: string;
  label: number;
  /** The annotation line it came from, for error messages. */
  where: string;
}

export interface PreparedList {
  /** The list file written. */
  file: string;
  count: number;
  /** Distinct labels in it. */
  classes: number;
}

export interface Prepared {
  /** The dataset folder the image paths were resolved against. */
  root: string;
  outDir: string;
  lists: Record<string, PreparedList>;
}

/** The non-empty lines of an annotation file, each with its 1-based line number. */
export function readLines(file: string): Array<{ text: string; line: number }> {
  return readInputTextSync(file, { format: 'annotations' })
    .split(/\r?\n/)
    .map((t, i) => ({ text: t.trim(), line: i + 1 }))
    .filter((l) => l.text !== '');
}

/** The first of `candidates` (relative to root) that exists, or an error listing them all. */
export function locate(root: string, candidates: readonly string[], what: string): string {
  for (const c of candidates) {
    const p = path.join(root, c);
    if (existsSync(p)) return p;
  }
  throw new Error(`${root}: no ${what} found (looked for ${candidates.join(', ')})`);
}

export function parseIntField(s: string | undefined, where: string, what: string): number {
  if (s === undefined || !/^[+-]?\d+$/.test(s))
    throw new Error(`${where}: expected an integer ${what}, got '${s ?? ''}'`);
  return Number(s);
}

export function verifyImages(entries: readonly ListEntry[]): void {
  const missing = entries.filter((e) => !existsSync(e.file));
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 5)
      .map((e) => `${e.file} (${e.where})`)
      .join('; ');
    throw new Error(`${missing.length} of ${entries.length} listed images are missing, e.g. ${shown}`);
  }
  // An entry that names a FIFO or a device (a path like ../../../dev/zero) would hang or flood the
  // training that reads it; the list is refused here, where the annotation line is known.
  for (const e of entries) {
    try {
      checkInputFile(e.file, { format: 'image' });
    } catch (err) {
      throw new Error(`${e.where}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Writes `relative/path,label` lines; paths are relative to the list file's folder, '/'-separated. */
export function writeList(outDir: string, name: string, entries: readonly ListEntry[]): PreparedList {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, name);
  const lines = entries.map((e) => `${path.relative(outDir, e.file).split(path.sep).join('/')},${e.label}`);
  try {
    writeFileSync(file, lines.length ? lines.join('\n') + '\n' : '');
  } catch (e) {
    throw writeError(file, e);
  }
  return { file, count: entries.length, classes: new Set(entries.map((e) => e.label)).size };
}

export function finish(root: string, opts: PrepareOptions, splits: Record<string, readonly ListEntry[]>): Prepared {
  if (opts.verify ?? true) verifyImages(Object.values(splits).flat());
  const outDir = opts.outDir ?? root;
  const lists: Record<string, PreparedList> = {};
  for (const [name, entries] of Object.entries(splits)) lists[name] = writeList(outDir, `${name}.txt`, entries);
  return { root, outDir, lists };
}
