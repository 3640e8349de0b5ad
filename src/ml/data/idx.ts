// IDX files (MNIST / Fashion-MNIST), gzipped or not, validated against their own headers.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Reads an unsigned-byte IDX file (type 0x08), the type MNIST-style datasets use. */
export function readIdx(file: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read IDX file: ${(e as Error).message}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try { raw = gunzipSync(raw); } catch (e) { throw new Error(`${file}: corrupt gzip data: ${(e as Error).message}`); }
  }
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) throw new Error(`${file}: not an IDX file (bad magic)`);
  if (raw[2] !== 0x08) throw new Error(`${file}: IDX element type 0x${raw[2]!.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const ndim = raw[3]!;
  if (ndim < 1 || raw.length < 4 + 4 * ndim) throw new Error(`${file}: truncated IDX header`);
  const dims = Array.from({ length: ndim }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const body = raw.length - 4 - 4 * ndim;
  if (body !== count) throw new Error(`${file}: header says ${dims.join('x')} = ${count} bytes of data, file has ${body}`);
  return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + 4 + 4 * ndim, count) };
}

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** The folder of Debian's dataset-fashion-mnist, or a clear error saying how to get it. */
export function findFashionMnist(): string {
  if (existsSync(path.join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'))) return DEBIAN_DIR;
  try {
    const files = execFileSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8' }).split('\n');
    const hit = files.find((f) => f.endsWith('train-images-idx3-ubyte.gz'));
    if (hit) return path.dirname(hit);
  } catch {
    // dpkg missing or package not installed: fall through to the error below.
  }
  throw new Error('Fashion-MNIST not found: run `apt-get install dataset-fashion-mnist`, or set data.root=DIR to a folder with the IDX files');
}

function findSplitFile(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${dir}: missing ${base}(.gz)`);
}

export interface IdxSplit {
  images: Uint8Array;
  /** Remapped to 0..(hi-lo). */
  labels: Int32Array;
  height: number;
  width: number;
  count: number;
}

/** The images of classes lo..hi (inclusive) of a split ('train' or 't10k'), labels shifted to start at 0. */
export function loadIdxSplit(dir: string, split: 'train' | 't10k', classRange: [number, number]): IdxSplit {
  const imgFile = findSplitFile(dir, `${split}-images-idx3-ubyte`);
  const lblFile = findSplitFile(dir, `${split}-labels-idx1-ubyte`);
  const img = readIdx(imgFile);
  const lbl = readIdx(lblFile);
  if (img.dims.length !== 3) throw new Error(`${imgFile}: expected 3 dims (N, H, W), got ${img.dims.length}`);
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) throw new Error(`${lblFile}: ${lbl.dims[0]} labels for ${img.dims[0]} images`);
  const [n, h, w] = img.dims as [number, number, number];
  const [lo, hi] = classRange;
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (lbl.data[i]! >= lo && lbl.data[i]! <= hi) keep.push(i);
  const images = new Uint8Array(keep.length * h * w);
  const labels = new Int32Array(keep.length);
  keep.forEach((i, k) => {
    images.set(img.data.subarray(i * h * w, (i + 1) * h * w), k * h * w);
    labels[k] = lbl.data[i]! - lo;
  });
  return { images, labels, height: h, width: w, count: keep.length };
}
