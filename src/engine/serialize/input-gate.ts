// The one door through which the toolkit reads a file a user named (configs, lists, checkpoints,
// weights, IDX and MAT files, images, metrics logs, annotation files). A path can name a FIFO (an
// open() waits for a writer forever), a device (/dev/zero reads without end), a directory or a
// file far larger than its format can be; each of those used to hang a command or grow its memory
// until it was killed. Here the path is stat()ed before anything opens it, only a regular file of
// at most its format's size passes, and the error names the file, the argument or key it came
// from and what is wrong with it. It lives in the engine's floor because the engine's own readers
// (safetensors, torch.save zips) are among its users.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

/** What a file is read as; each kind has its own size limit and its name in errors. */
export type InputFormat =
  | 'config'
  | 'list'
  | 'annotations'
  | 'checkpoint'
  | 'weights'
  | 'embeddings'
  | 'idx'
  | 'mat'
  | 'image'
  | 'metrics'
  | 'json';

const KiB = 1024;
const MiB = KiB * KiB;
const GiB = MiB * KiB;

/**
 * How large each kind of file can legitimately be. Text formats stay under V8's longest string
 * (~512 Mi characters); tensor files are bounded by memory rather than by their format, so theirs
 * is generous and, like every limit, raised by the environment variable `DML_MAX_<FORMAT>_BYTES`.
 */
export const INPUT_LIMITS: Readonly<Record<InputFormat, { bytes: number; noun: string }>> = {
  config: { bytes: 4 * MiB, noun: 'config' },
  list: { bytes: 256 * MiB, noun: 'list file' },
  annotations: { bytes: 256 * MiB, noun: 'annotation file' },
  checkpoint: { bytes: 64 * GiB, noun: 'checkpoint' },
  weights: { bytes: 64 * GiB, noun: 'weights file' },
  embeddings: { bytes: 64 * GiB, noun: 'embeddings file' },
  idx: { bytes: 8 * GiB, noun: 'IDX file' },
  mat: { bytes: 1 * GiB, noun: 'MAT-file' },
  image: { bytes: 512 * MiB, noun: 'image' },
  metrics: { bytes: 256 * MiB, noun: 'metrics log' },
  json: { bytes: 16 * MiB, noun: 'JSON file' },
};

export interface InputSource {
  format: InputFormat;
  /** The argument or key the path came from ('--config', 'model.pretrained'), named first in errors. */
  from?: string;
  /** Overrides the format's limit (and its environment variable). */
  maxBytes?: number;
}

/** The environment variable that raises a format's limit. */
export const limitVariable = (format: InputFormat): string => `DML_MAX_${format.toUpperCase()}_BYTES`;

/** A format's byte limit: `maxBytes`, else its environment variable (bytes, or K/M/G/T), else the table's. */
export function inputLimit(src: InputSource): number {
  if (src.maxBytes !== undefined) return src.maxBytes;
  const env = process.env[limitVariable(src.format)];
  if (env) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(env);
    if (!m) throw new Error(`${limitVariable(src.format)}=${env}: expected a size such as 2147483648 or 2G`);
    const unit = { '': 1, k: KiB, m: MiB, g: GiB, t: GiB * KiB }[m[2]!.toLowerCase()]!;
    return Math.floor(Number(m[1]) * unit);
  }
  return INPUT_LIMITS[src.format].bytes;
}

/** 5.1 GiB, 300 MiB, 12 KiB, 7 bytes. */
export function formatBytes(n: number): string {
  const units: Array<[number, string]> = [
    [GiB * KiB, 'TiB'],
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ];
  for (const [u, name] of units) {
    if (n >= u) {
      const v = n / u;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${n} bytes`;
}

/**
 * An error of the gate: the file, where it came from, and why it is not read. Its name stays
 * 'Error', so that it prints like the readers' other errors.
 */
export class InputFileError extends Error {
  constructor(
    readonly file: string,
    readonly src: InputSource,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${src.from ? `${src.from} ` : ''}${file}: cannot read ${INPUT_LIMITS[src.format].noun}: ${reason}`, options);
  }
}

function kindOf(st: fs.Stats): string {
  return st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isSocket()
            ? 'a socket'
            : 'not a regular file';
}

function errnoReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'EISDIR':
      return 'it is a directory, not a regular file';
    case 'EACCES':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    default:
      return err.message;
  }
}

/** Refuses what is not a regular file of at most the format's size; returns the size. */
function admit(file: string, src: InputSource, st: fs.Stats): number {
  if (!st.isFile()) throw new InputFileError(file, src, `it is ${kindOf(st)}, not a regular file`);
  const limit = inputLimit(src);
  if (st.size > limit) {
    const how = src.maxBytes === undefined ? ` (${limitVariable(src.format)} raises it)` : '';
    throw new InputFileError(
      file,
      src,
      `it is ${formatBytes(st.size)}, more than the ${formatBytes(limit)} a ${INPUT_LIMITS[src.format].noun} ` +
        `can be${how}`,
    );
  }
  return st.size;
}

/**
 * Checks a path without opening it (stat follows symbolic links): it must be a regular file within
 * the format's limit. Returns its size. Throws an InputFileError naming the file otherwise.
 */
export function checkInputFile(file: string, src: InputSource): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new InputFileError(file, src, errnoReason(e), { cause: e });
  }
  return admit(file, src, st);
}

// O_NONBLOCK: should the path be swapped for a FIFO between the stat and the open, the open still
// returns at once, and the fstat below refuses it.
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

const wrap = (file: string, src: InputSource, e: unknown): Error =>
  e instanceof InputFileError ? e : new InputFileError(file, src, errnoReason(e), { cause: e });

// Below the 2^31-1 byte limit of a single read(2) through Node.
const READ_CHUNK = 1 << 30;

/**
 * Opens a checked file for reading: the caller reads at most `size` bytes (the size it had when
 * it was admitted) and closes `fd`. For streaming readers (hashes) that do not want it in memory.
 */
export function openInputFileSync(file: string, src: InputSource): { fd: number; size: number } {
  checkInputFile(file, src);
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (e) {
    throw wrap(file, src, e);
  }
  try {
    return { fd, size: admit(file, src, fs.fstatSync(fd)) };
  } catch (e) {
    fs.closeSync(fd);
    throw wrap(file, src, e);
  }
}

// Pseudo-files (/proc/self/status, sysfs) are regular files that stat() as 0 bytes yet read
// non-empty; trusting the 0 made them parse as empty. Those are read to their end instead, in
// chunks of this size, and refused once past the format's limit like any other file.
const PSEUDO_CHUNK = 64 * KiB;

function tooLong(file: string, src: InputSource, limit: number): InputFileError {
  return new InputFileError(
    file,
    src,
    `it reports 0 bytes (a pseudo-file) but reads more than the ${formatBytes(limit)} a ` +
      `${INPUT_LIMITS[src.format].noun} can be`,
  );
}

/** The bytes of a file that stat()ed as empty: what reads give until EOF, at most the format's limit. */
function readPseudoSync(fd: number, file: string, src: InputSource): Buffer {
  const limit = inputLimit(src);
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(PSEUDO_CHUNK);
    const n = fs.readSync(fd, chunk, 0, PSEUDO_CHUNK, null);
    if (n === 0) return Buffer.concat(parts, total);
    total += n;
    if (total > limit) throw tooLong(file, src, limit);
    parts.push(chunk.subarray(0, n));
  }
}

async function readPseudo(h: fsp.FileHandle, file: string, src: InputSource): Promise<Buffer> {
  const limit = inputLimit(src);
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(PSEUDO_CHUNK);
    const { bytesRead } = await h.read(chunk, 0, PSEUDO_CHUNK, null);
    if (bytesRead === 0) return Buffer.concat(parts, total);
    total += bytesRead;
    if (total > limit) throw tooLong(file, src, limit);
    parts.push(chunk.subarray(0, bytesRead));
  }
}

/**
 * Reads a checked file whole; never more than the size it was admitted with, except that a file
 * reporting 0 bytes (a pseudo-file under /proc) is read to its end, within the format's limit.
 */
export function readInputFileSync(file: string, src: InputSource): Buffer {
  const { fd, size } = openInputFileSync(file, src);
  try {
    if (size === 0) return readPseudoSync(fd, file, src);
    const buf = Buffer.allocUnsafeSlow(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, got, Math.min(READ_CHUNK, size - got), got);
      if (n === 0) throw new InputFileError(file, src, `the file shrank while it was read (${got} of ${size} bytes)`);
      got += n;
    }
    return buf;
  } catch (e) {
    throw wrap(file, src, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** readInputFileSync, without blocking the event loop. */
export async function readInputFile(file: string, src: InputSource): Promise<Buffer> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    throw wrap(file, src, e);
  }
  admit(file, src, st);
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(file, OPEN_FLAGS);
  } catch (e) {
    throw wrap(file, src, e);
  }
  try {
    const size = admit(file, src, await h.stat());
    if (size === 0) return await readPseudo(h, file, src);
    const buf = Buffer.allocUnsafeSlow(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await h.read(buf, got, Math.min(READ_CHUNK, size - got), got);
      if (bytesRead === 0)
        throw new InputFileError(file, src, `the file shrank while it was read (${got} of ${size} bytes)`);
      got += bytesRead;
    }
    return buf;
  } catch (e) {
    throw wrap(file, src, e);
  } finally {
    await h.close();
  }
}

/** A checked text file, decoded as UTF-8. */
export function readInputTextSync(file: string, src: InputSource): string {
  return readInputFileSync(file, src).toString('utf8');
}
