// In-memory sources over IDX arrays (MNIST / Fashion-MNIST): the shared baseline's augmentation
// (zero-pad 2, random 28×28 crop, horizontal flip with p = 0.5), seeded per (seed, epoch, batch).
import { STREAM, rngFor } from '../../random.js';
import { checkRange } from '../../data/range.js';
import type { Batch, EvalSource, TrainSource } from './source.js';

export interface IdxArrays {
  images: Uint8Array;
  labels: Int32Array;
  height: number;
  width: number;
}

function toFloat(src: Uint8Array, offset: number, out: Float32Array, outOffset: number, n: number): void {
  for (let k = 0; k < n; k++) out[outOffset + k] = src[offset + k]! / 255;
}

export class IdxTrainSource implements TrainSource {
  readonly inChannels = 1;
  readonly numClasses: number;
  constructor(
    readonly data: IdxArrays,
    readonly seed: number,
    readonly augment = true,
    readonly pad = 2,
  ) {
    this.numClasses = data.labels.reduce((m, v) => Math.max(m, v), -1) + 1;
  }
  get labels(): Int32Array {
    return this.data.labels;
  }
  get imageSize(): number {
    return this.data.height;
  }
  async load(indices: readonly number[], epoch: number, batchIndex: number, positionOffset = 0): Promise<Batch> {
    const { images, labels, height: H, width: W } = this.data;
    const n = indices.length,
      plane = H * W;
    const out = new Float32Array(n * plane);
    const y = new Int32Array(n);
    const rng = rngFor(this.seed, STREAM.idxAugment, epoch, batchIndex);
    const p = this.pad;
    // One stream per whole batch: a slice starting further in skips the earlier images' draws.
    const draw = (): { dx: number; dy: number; flip: boolean } => {
      const dx = rng.int(-p, p + 1),
        dy = rng.int(-p, p + 1);
      return { dx, dy, flip: rng.chance(0.5) };
    };
    if (this.augment) for (let k = 0; k < positionOffset; k++) draw();
    for (let b = 0; b < n; b++) {
      const i = indices[b]!;
      y[b] = labels[i]!;
      if (!this.augment) {
        toFloat(images, i * plane, out, b * plane, plane);
        continue;
      }
      // Crop origin in the padded image; pixels that fall in the padding stay 0.
      const { dx, dy, flip } = draw();
      for (let r = 0; r < H; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= H) continue;
        for (let c = 0; c < W; c++) {
          const sc0 = c + dx;
          if (sc0 < 0 || sc0 >= W) continue;
          const dc = flip ? W - 1 - c : c;
          out[b * plane + r * W + dc] = images[i * plane + sr * W + sc0]! / 255;
        }
      }
    }
    return { images: out, shape: [n, 1, H, W], labels: y };
  }
}

export class IdxEvalSource implements EvalSource {
  constructor(readonly data: IdxArrays) {}
  get labels(): Int32Array {
    return this.data.labels;
  }
  async *batches(batchSize: number, range?: { start: number; end: number }): AsyncIterable<Batch> {
    const { images, labels, height: H, width: W } = this.data;
    const plane = H * W;
    const [first, end] = checkRange(range, labels.length, 'IdxEvalSource.batches');
    for (let s = first; s < end; s += batchSize) {
      const n = Math.min(batchSize, end - s);
      const out = new Float32Array(n * plane);
      toFloat(images, s * plane, out, 0, n * plane);
      yield { images: out, shape: [n, 1, H, W], labels: labels.slice(s, s + n) };
    }
  }
}
