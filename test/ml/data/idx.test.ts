import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { findFashionMnist, loadIdxSplit, readIdx, readIdxTyped } from '../../../src/ml/data/idx.js';
import { idxBatch, IdxLoader } from '../../../src/ml/data/idx-batch.js';
import { Rng, sampleRng } from '../../../src/ml/random.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('idx');
after(tmp.cleanup);

function idx(code: number, dims: number[], body: Buffer): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = code;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, body]);
}

/** A 6-image 3×4 split, image i filled with 10·i + pixel index, label i. */
function writeSplit(dir: string, split: string, gz: boolean): void {
  const n = 6,
    h = 3,
    w = 4;
  const img = Buffer.alloc(n * h * w);
  for (let i = 0; i < n; i++) for (let k = 0; k < h * w; k++) img[i * h * w + k] = 10 * i + k;
  const lbl = Buffer.from([0, 1, 2, 3, 4, 5]);
  const wr = (name: string, b: Buffer): void =>
    writeFileSync(path.join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(b) : b);
  wr(`${split}-images-idx3-ubyte`, idx(0x08, [n, h, w], img));
  wr(`${split}-labels-idx1-ubyte`, idx(0x08, [n], lbl));
}

test('loadIdxSplit keeps a class range and shifts labels, gzipped or not', () => {
  for (const gz of [true, false]) {
    const dir = path.join(tmp.dir, gz ? 'gz' : 'plain');
    mkdirSync(dir, { recursive: true });
    writeSplit(dir, 'train', gz);
    writeSplit(dir, 't10k', gz);
    const s = loadIdxSplit(dir, 'train', [2, 4]);
    assert.equal(s.count, 3);
    assert.equal(s.height, 3);
    assert.equal(s.width, 4);
    assert.deepEqual([...s.labels], [0, 1, 2]);
    assert.equal(s.images.length, 3 * 12);
    assert.equal(s.images[0], 20);
    assert.equal(s.images[12 + 5], 35);
    assert.equal(findFashionMnist(dir), dir);
  }
  assert.throws(() => loadIdxSplit(path.join(tmp.dir, 'gz'), 'train', [4, 2]), /classRange/);
  assert.throws(() => loadIdxSplit(path.join(tmp.dir, 'gz'), 'train', [7, 9]), /no samples with labels in 7..9/);
  assert.throws(() => loadIdxSplit(tmp.dir, 'train', [0, 1]), /missing train-images-idx3-ubyte\(\.gz\)/);
});

test('readIdx validates magic, type, dims and length, naming the file', () => {
  const f = (name: string, b: Buffer): string => {
    const p = path.join(tmp.dir, name);
    writeFileSync(p, b);
    return p;
  };
  assert.throws(
    () => readIdx(f('magic', Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]))),
    (e: Error) => e.message.startsWith(`${tmp.dir}/magic: not an IDX file (bad magic`),
  );
  assert.throws(() => readIdx(f('type', idx(0x0a, [1], Buffer.from([1])))), /unknown IDX element type code 0x0a/);
  assert.throws(() => readIdx(f('int32', idx(0x0c, [1], Buffer.alloc(4)))), /only unsigned bytes/);
  assert.throws(
    () => readIdx(f('short', idx(0x08, [2, 3], Buffer.alloc(5)))),
    /2x3 uint8 = 6 bytes of data, file has 5/,
  );
  assert.throws(() => readIdx(f('long', idx(0x08, [2], Buffer.alloc(3)))), /file has 3/);
  assert.throws(() => readIdx(f('head', Buffer.from([0, 0, 8, 3, 0, 0]))), /truncated IDX header/);
  assert.throws(() => readIdx(f('zero', Buffer.from([0, 0, 8, 0]))), /0 dimensions/);
  assert.throws(() => readIdx(f('badgz', Buffer.from([0x1f, 0x8b, 1, 2, 3]))), /corrupt gzip/);
  assert.throws(() => readIdx(path.join(tmp.dir, 'nope')), /nope: cannot read IDX file/);

  // Label/image count mismatch names the label file.
  const dir = path.join(tmp.dir, 'mismatch');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idx(0x08, [2, 1, 1], Buffer.from([1, 2])));
  writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [3], Buffer.from([0, 1, 2])));
  assert.throws(() => loadIdxSplit(dir, 'train', [0, 9]), /train-labels-idx1-ubyte: 3 labels for 2 images/);
});

test('readIdxTyped reads big-endian multi-byte element types', () => {
  const i32 = Buffer.alloc(8);
  i32.writeInt32BE(-7, 0);
  i32.writeInt32BE(70000, 4);
  const p = path.join(tmp.dir, 'i32');
  writeFileSync(p, idx(0x0c, [2], i32));
  assert.deepEqual(readIdxTyped(p), { dims: [2], dtype: 'int32', data: Int32Array.from([-7, 70000]) });
  const f32 = Buffer.alloc(4);
  f32.writeFloatBE(1.5, 0);
  writeFileSync(p, idx(0x0d, [1, 1], f32));
  const r = readIdxTyped(p);
  assert.equal(r.dtype, 'float32');
  assert.equal(r.data[0], 1.5);
});

test('findFashionMnist: an explicit folder is checked, a missing dataset says how to install it', () => {
  assert.throws(() => findFashionMnist(tmp.dir), /not a Fashion-MNIST folder, missing train-images-idx3-ubyte\(\.gz\)/);
  try {
    const dir = findFashionMnist();
    assert.ok(
      existsSync(path.join(dir, 'train-images-idx3-ubyte.gz')) || existsSync(path.join(dir, 'train-images-idx3-ubyte')),
    );
  } catch (e) {
    assert.match((e as Error).message, /apt-get install dataset-fashion-mnist/);
  }
});

test("the real Fashion-MNIST splits load (Debian's dataset-fashion-mnist, installed by scripts/setup.sh)", () => {
  const dir = findFashionMnist();
  const train = loadIdxSplit(dir, 'train', [0, 4]);
  const test5 = loadIdxSplit(dir, 't10k', [5, 9]);
  assert.equal(train.count, 30_000);
  assert.equal(test5.count, 5_000);
  assert.equal(train.height, 28);
  assert.equal(train.width, 28);
  assert.equal(Math.max(...test5.labels), 4);
  assert.equal(Math.min(...test5.labels), 0);
});

/** The augmentation spelled out: pad with zeros, crop at (dx, dy) in 0..2p, flip the crop. */
function referenceAugment(
  img: Uint8Array,
  H: number,
  W: number,
  p: number,
  dx: number,
  dy: number,
  flip: boolean,
): Float32Array {
  const PW = W + 2 * p,
    PH = H + 2 * p;
  const padded = new Float32Array(PH * PW);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) padded[(r + p) * PW + c + p] = img[r * W + c]! / 255;
  const out = new Float32Array(H * W);
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) out[r * W + (flip ? W - 1 - c : c)] = padded[(r + dy) * PW + c + dx]!;
  return out;
}

test('idxBatch: pad-2 random crop + flip equals the spelled-out augmentation, in [0, 1]', () => {
  const H = 5,
    W = 6,
    n = 4;
  const images = Uint8Array.from({ length: n * H * W }, (_, i) => (i * 37) % 256);
  const data = { images, labels: Int32Array.from([3, 1, 0, 2]), height: H, width: W };
  const plain = idxBatch(data, [2, 0]);
  assert.deepEqual(plain.shape, [2, 1, H, W]);
  assert.deepEqual([...plain.labels], [0, 3]);
  assert.equal(plain.images[0], Math.fround(images[2 * H * W]! / 255));

  const seen = new Set<string>();
  let flips = 0;
  for (let trial = 0; trial < 200; trial++) {
    const b = idxBatch(data, [1], () => new Rng(trial));
    const r = new Rng(trial);
    const dx = r.int(0, 5),
      dy = r.int(0, 5),
      flip = r.uniform() < 0.5;
    seen.add(`${dx},${dy}`);
    flips += flip ? 1 : 0;
    assert.deepEqual(b.images, referenceAugment(images.subarray(H * W, 2 * H * W), H, W, 2, dx, dy, flip));
    assert.ok(b.images.every((v) => v >= 0 && v <= 1));
  }
  assert.equal(seen.size, 25, 'every offset in 0..4 × 0..4 occurs');
  assert.ok(flips > 70 && flips < 130);
  assert.throws(() => idxBatch(data, [4]), /index 4 at batch position 0/);
});

test('IdxLoader: augmentation fixed by (seed, epoch, batch), eval batches cover everything in order', async () => {
  const H = 4,
    W = 4;
  const images = Uint8Array.from({ length: 10 * H * W }, (_, i) => i % 251);
  const data = { images, labels: Int32Array.from({ length: 10 }, (_, i) => i % 3), height: H, width: W };
  const L = new IdxLoader(data, 11);
  assert.equal(L.numClasses, 3);
  const a = await L.load([1, 2, 3], 0, 5);
  assert.deepEqual(a, await new IdxLoader(data, 11).load([1, 2, 3], 0, 5));
  assert.notDeepEqual(a.images, (await L.load([1, 2, 3], 1, 5)).images);
  const expect = idxBatch(data, [1, 2, 3], (b) => sampleRng(11, 0, 5, b));
  assert.deepEqual(a.images, expect.images);
  const chunks = [];
  for await (const b of L.batches(4)) chunks.push(b);
  assert.deepEqual(
    chunks.map((c) => c.shape[0]),
    [4, 4, 2],
  );
  assert.deepEqual(
    chunks.flatMap((c) => [...c.labels]),
    [...data.labels],
  );
  const off = new IdxLoader(data, 11, false);
  assert.deepEqual((await off.load([0], 3, 3)).images, idxBatch(data, [0]).images);
});
