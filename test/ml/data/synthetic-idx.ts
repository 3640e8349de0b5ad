// Tiny synthetic Fashion-MNIST-shaped IDX data sets, written by the tests themselves.
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

function idx(dims: number[], data: Uint8Array, typeCode = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = typeCode;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

/**
 * Writes train/t10k IDX files of 10 classes where class c is a bright square at a class-specific
 * position plus noise, so a small network can learn it and retrieval on classes 5-9 is meaningful.
 */
export function writeSyntheticIdx(dir: string, perClassTrain = 8, perClassTest = 4, size = 12, seed = 1): void {
  mkdirSync(dir, { recursive: true });
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  for (const [split, per] of [
    ['train', perClassTrain],
    ['t10k', perClassTest],
  ] as const) {
    const n = per * 10;
    const images = new Uint8Array(n * size * size);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 10;
      labels[i] = c;
      const r0 = (c * 3) % (size - 3),
        c0 = (c * 5) % (size - 3);
      for (let p = 0; p < size * size; p++) images[i * size * size + p] = Math.floor(rnd() * 60);
      for (let r = r0; r < r0 + 3; r++)
        for (let q = c0; q < c0 + 3; q++) images[i * size * size + r * size + q] = 200 + Math.floor(rnd() * 55);
    }
    writeFileSync(path.join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(idx([n, size, size], images)));
    writeFileSync(path.join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(idx([n], labels)));
  }
}
