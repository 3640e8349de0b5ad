// The fast in-memory path for IDX data (MNIST / Fashion-MNIST): no decoding, no workers, just the
// shared baseline's augmentation — zero-pad by 2, crop back to H×W at a random offset dx, dy in
// 0..4, horizontal flip with p = 0.5 — written straight into a Float32 batch in [0, 1].
import { Rng, sampleRng } from '../random.js';
import { checkRange } from './range.js';
import type { Batch } from './loader.js';

export interface IdxImages {
  /** count × height × width bytes. */
  images: Uint8Array;
  labels: Int32Array;
  height: number;
  width: number;
}

export interface IdxAugment {
  /** Zero padding on each side before the random crop (default 2). */
  pad?: number;
  /** Flip probability (default 0.5; 0 disables). */
  flipP?: number;
}

function checkIndex(data: IdxImages, i: number, b: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= data.labels.length) {
    throw new RangeError(`idxBatch: index ${i} at batch position ${b} is outside 0..${data.labels.length - 1}`);
  }
}

/**
 * One batch of samples `indices`; with `rngFor` each sample b is augmented with the stream
 * `rngFor(b)` (pad/crop draws dx then dy, then the flip draw), without it the images are copied as-is.
 */
export function idxBatch(
  data: IdxImages,
  indices: readonly number[],
  rngFor?: (position: number) => Rng,
  opts: IdxAugment = {},
): Batch {
  const pad = opts.pad ?? 2;
  const flipP = opts.flipP ?? 0.5;
  if (!Number.isInteger(pad) || pad < 0)
    throw new RangeError(`idxBatch: pad must be a non-negative integer, got ${pad}`);
  const { images, labels, height: H, width: W } = data;
  const plane = H * W;
  const n = indices.length;
  const out = new Float32Array(n * plane);
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    const i = indices[b]!;
    checkIndex(data, i, b);
    y[b] = labels[i]!;
    const src = i * plane,
      dst = b * plane;
    if (!rngFor) {
      for (let k = 0; k < plane; k++) out[dst + k] = images[src + k]! / 255;
      continue;
    }
    const rng = rngFor(b);
    // Offsets into the padded (H+2p)×(W+2p) image; pixels that land in the padding stay 0.
    const dx = rng.int(0, 2 * pad + 1) - pad;
    const dy = rng.int(0, 2 * pad + 1) - pad;
    const flip = flipP > 0 && rng.uniform() < flipP;
    for (let r = 0; r < H; r++) {
      const sr = r + dy;
      if (sr < 0 || sr >= H) continue;
      const rowIn = src + sr * W,
        rowOut = dst + r * W;
      for (let c = 0; c < W; c++) {
        const sc = c + dx;
        if (sc < 0 || sc >= W) continue;
        out[rowOut + (flip ? W - 1 - c : c)] = images[rowIn + sc]! / 255;
      }
    }
  }
  return { images: out, labels: y, shape: [n, 1, H, W], indices: Int32Array.from(indices) };
}

/** IDX data as a training source: augmented batches deterministic in (seed, epoch, batch index). */
export class IdxLoader {
  readonly inChannels = 1;
  readonly numClasses: number;
  readonly skipped = 0;
  constructor(
    readonly data: IdxImages,
    readonly seed = 0,
    readonly augment: IdxAugment | false = {},
  ) {
    if (data.images.length !== data.labels.length * data.height * data.width) {
      throw new RangeError(
        `IdxLoader: ${data.images.length} image bytes for ${data.labels.length} labels of ${data.height}x${data.width}`,
      );
    }
    this.numClasses = data.labels.reduce((m, v) => Math.max(m, v), -1) + 1;
  }

  get labels(): Int32Array {
    return this.data.labels;
  }

  /** `positionOffset`: where indices[0] sits in a batch shared by several processes. */
  async load(indices: readonly number[], epoch: number, batchIndex: number, positionOffset = 0): Promise<Batch> {
    if (this.augment === false) return idxBatch(this.data, indices);
    return idxBatch(
      this.data,
      indices,
      (b) => sampleRng(this.seed, epoch, batchIndex, positionOffset + b),
      this.augment,
    );
  }

  /** Un-augmented batches in order, covering every sample once (or samples [start, end) of `range`). */
  async *batches(batchSize: number, range?: { start: number; end: number }): AsyncGenerator<Batch> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`IdxLoader.batches: batchSize must be a positive integer, got ${batchSize}`);
    const [first, n] = checkRange(range, this.data.labels.length, 'IdxLoader.batches');
    for (let s = first; s < n; s += batchSize) {
      yield idxBatch(
        this.data,
        Array.from({ length: Math.min(batchSize, n - s) }, (_, k) => s + k),
      );
    }
  }
}
