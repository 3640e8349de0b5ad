// IDX files (MNIST / Fashion-MNIST), gzipped or not, validated against their own headers.
import { existsSync, readFileSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxTypedArray {
  dims: number[];
  dtype: IdxDtype;
  data: IdxData;
}

const DTYPES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};

/** Most bytes an IDX file may hold once decompressed (a hostile header cannot ask for more). */
export const MAX_IDX_BYTES = 2 * 2 ** 30;
/**
 * Most a gzip IDX file may inflate per compressed byte. Images and labels compress a few times at most
 * (Fashion-MNIST's images: 1.8×); deflate can reach ~1032× only on runs of one byte, which is what a
 * decompression bomb is made of. Checked against the header before anything is inflated.
 */
export const MAX_IDX_GZIP_RATIO = 64;

/** The size an IDX header announces (header + data), or null when these bytes are not a whole header. */
function announcedSize(head: Uint8Array): number | null {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return null;
  const type = DTYPES[head[2]!];
  const ndim = head[3]!;
  if (!type || ndim < 1 || head.length < 4 + 4 * ndim) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < ndim; i++) count *= view.getUint32(4 + 4 * i);
  return 4 + 4 * ndim + count * type.size;
}

/**
 * Gunzips at most what the IDX header inside announces (plus one byte, to tell a longer stream):
 * a small gzip file that inflates to gigabytes is refused after reading its header, not after
 * inflating it.
 */
function gunzipBounded(file: string, raw: Buffer): Buffer {
  // A sync flush of the first compressed bytes gives the start of the stream without an error;
  // deflate inflates at most ~1032:1, so the output of a short prefix stays small.
  let announced: number | null = null;
  for (const n of [256, 4096]) {
    let head: Buffer;
    try {
      head = gunzipSync(raw.subarray(0, Math.min(raw.length, n)), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: n * 1100,
      });
    } catch (e) {
      throw new Error(`${file}: corrupt gzip data: ${(e as Error).message}`, { cause: e });
    }
    announced = announcedSize(head);
    if (announced !== null || n >= raw.length) break;
  }
  const byRatio = MAX_IDX_GZIP_RATIO * raw.length + (1 << 20);
  if (announced !== null && announced > byRatio) {
    throw new Error(
      `${file}: its IDX header announces ${announced} bytes from ${raw.length} compressed bytes, more than ` +
        `${MAX_IDX_GZIP_RATIO}× (image data compresses far less: a corrupt header or a decompression bomb)`,
    );
  }
  const limit = Math.min(announced ?? MAX_IDX_BYTES, MAX_IDX_BYTES, byRatio);
  try {
    return gunzipSync(raw, { maxOutputLength: limit + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(
        announced !== null && announced <= limit
          ? `${file}: decompresses to more than the ${announced} bytes its IDX header announces`
          : `${file}: decompresses to more than ${limit} bytes`,
        { cause: e },
      );
    }
    throw new Error(`${file}: corrupt gzip data: ${(e as Error).message}`, { cause: e });
  }
}

function readMaybeGzipped(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read IDX file: ${(e as Error).message}`, { cause: e });
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipBounded(file, raw);
  return raw;
}

/** Reads an IDX file of any element type; multi-byte elements are big-endian on disk. */
export function readIdxTyped(file: string): IdxTypedArray {
  const raw = readMaybeGzipped(file);
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0)
    throw new Error(`${file}: not an IDX file (bad magic, expected 00 00 at offset 0)`);
  const type = DTYPES[raw[2]!];
  if (!type) throw new Error(`${file}: unknown IDX element type code 0x${raw[2]!.toString(16).padStart(2, '0')}`);
  const ndim = raw[3]!;
  if (ndim < 1) throw new Error(`${file}: IDX header declares 0 dimensions`);
  if (raw.length < 4 + 4 * ndim)
    throw new Error(
      `${file}: truncated IDX header (${ndim} dimensions need ${4 + 4 * ndim} bytes, file has ${raw.length})`,
    );
  const dims = Array.from({ length: ndim }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndim;
  const body = raw.length - start;
  if (body !== count * type.size) {
    throw new Error(
      `${file}: header says ${dims.join('x')} ${type.dtype} = ${count * type.size} bytes of data, file has ${body}`,
    );
  }
  const bytes = raw.subarray(start);
  let data: IdxData;
  switch (type.dtype) {
    case 'uint8':
      data = new Uint8Array(bytes.buffer, bytes.byteOffset, count);
      break;
    case 'int8':
      data = new Int8Array(bytes.buffer, bytes.byteOffset, count);
      break;
    case 'int16':
      data = Int16Array.from({ length: count }, (_, i) => bytes.readInt16BE(2 * i));
      break;
    case 'int32':
      data = Int32Array.from({ length: count }, (_, i) => bytes.readInt32BE(4 * i));
      break;
    case 'float32':
      data = Float32Array.from({ length: count }, (_, i) => bytes.readFloatBE(4 * i));
      break;
    case 'float64':
      data = Float64Array.from({ length: count }, (_, i) => bytes.readDoubleBE(8 * i));
      break;
  }
  return { dims, dtype: type.dtype, data };
}

/** Reads an unsigned-byte IDX file (type 0x08), the type MNIST-style datasets use. */
export function readIdx(file: string): IdxArray {
  const a = readIdxTyped(file);
  if (a.dtype !== 'uint8')
    throw new Error(`${file}: IDX element type ${a.dtype} is not supported here (only unsigned bytes, 0x08)`);
  return { dims: a.dims, data: a.data as Uint8Array };
}

/** Fashion-MNIST's ten classes by label; the trainer trains on 0-4 and tests on 5-9. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const SPLIT_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];
const INSTALL_HINT =
  'install it with `sudo apt-get install dataset-fashion-mnist`, or pass the folder holding the four *-ubyte(.gz) ' +
  'files';

function hasAllSplitFiles(dir: string): boolean {
  return SPLIT_FILES.every((b) => existsSync(path.join(dir, `${b}.gz`)) || existsSync(path.join(dir, b)));
}

/**
 * The folder with Fashion-MNIST's IDX files: `dir` when given (checked), else Debian's
 * dataset-fashion-mnist (its usual folder, then wherever `dpkg -L` says), else a clear error.
 */
export function findFashionMnist(dir?: string): string {
  if (dir) {
    if (!hasAllSplitFiles(dir)) {
      const missing = SPLIT_FILES.filter(
        (b) => !existsSync(path.join(dir, `${b}.gz`)) && !existsSync(path.join(dir, b)),
      );
      throw new Error(`${dir}: not a Fashion-MNIST folder, missing ${missing.map((m) => `${m}(.gz)`).join(', ')}`);
    }
    return dir;
  }
  if (hasAllSplitFiles(DEBIAN_DIR)) return DEBIAN_DIR;
  try {
    const files = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).split('\n');
    const hit = files.find((f) => f.endsWith('train-images-idx3-ubyte.gz'));
    if (hit && hasAllSplitFiles(path.dirname(hit))) return path.dirname(hit);
  } catch {
    // dpkg missing or package not installed: fall through to the error below.
  }
  throw new Error(`Fashion-MNIST not found in ${DEBIAN_DIR}: ${INSTALL_HINT}`);
}

function findSplitFile(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${dir}: missing ${base}(.gz)`);
}

export interface IdxSplit {
  /** count × height × width bytes, row-major. */
  images: Uint8Array;
  /** Remapped to 0..(hi-lo). */
  labels: Int32Array;
  height: number;
  width: number;
  count: number;
}

/** The images of classes lo..hi (inclusive) of a split ('train' or 't10k'), labels shifted to start at 0. */
export function loadIdxSplit(dir: string, split: 'train' | 't10k', classRange: [number, number]): IdxSplit {
  const [lo, hi] = classRange;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < lo || hi > 255) {
    throw new RangeError(`loadIdxSplit: classRange must be integers 0 <= lo <= hi <= 255, got [${lo}, ${hi}]`);
  }
  const imgFile = findSplitFile(dir, `${split}-images-idx3-ubyte`);
  const lblFile = findSplitFile(dir, `${split}-labels-idx1-ubyte`);
  const img = readIdx(imgFile);
  const lbl = readIdx(lblFile);
  if (img.dims.length !== 3) throw new Error(`${imgFile}: expected 3 dims (N, H, W), got ${img.dims.length}`);
  if (lbl.dims.length !== 1) throw new Error(`${lblFile}: expected 1 dim (N), got ${lbl.dims.length}`);
  if (lbl.dims[0] !== img.dims[0])
    throw new Error(`${lblFile}: ${lbl.dims[0]} labels for ${img.dims[0]} images in ${imgFile}`);
  const [n, h, w] = img.dims as [number, number, number];
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (lbl.data[i]! >= lo && lbl.data[i]! <= hi) keep.push(i);
  if (keep.length === 0) throw new Error(`${lblFile}: no samples with labels in ${lo}..${hi}`);
  const plane = h * w;
  const images = new Uint8Array(keep.length * plane);
  const labels = new Int32Array(keep.length);
  keep.forEach((i, k) => {
    images.set(img.data.subarray(i * plane, (i + 1) * plane), k * plane);
    labels[k] = lbl.data[i]! - lo;
  });
  return { images, labels, height: h, width: w, count: keep.length };
}
