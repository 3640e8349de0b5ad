// A decode-and-transform pipeline: bytes → (libvips: decode + leading deterministic geometry) →
// float CHW → the remaining transforms. The libvips part is deterministic per image, which is
// what a decoded-image cache keeps.
import { decodeImage, imageSize, rawToFloat, readImageBytes, type DecodeOptions, type FloatImage, type RawImage, type SharpOp } from './image.js';
import type { Sample } from './list.js';
import type { Rng } from './rng.js';
import { transformFromSpec, type Transform, type TransformSpec } from './transforms.js';

export interface PipelineOptions extends DecodeOptions {
  /** Run leading Resize / CenterCrop inside libvips while decoding (default true): much faster, not bit-identical to PIL. */
  fuseDecode?: boolean;
}

export interface PipelineSpec {
  transforms: TransformSpec[];
  options: PipelineOptions;
}

/** Decoded pixels plus how many of the pipeline's transforms libvips already applied. */
export interface DecodedImage extends RawImage {
  applied: number;
}

export type PipelineInput = string | Uint8Array | Pick<Sample, 'path'>;

function describe(input: PipelineInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return '<image bytes>';
  return input.path;
}

export class Pipeline {
  readonly transforms: readonly Transform[];
  readonly options: Readonly<PipelineOptions>;

  constructor(transforms: readonly Transform[], options: PipelineOptions = {}) {
    this.transforms = [...transforms];
    this.options = { ...options };
    const ch = options.channels ?? 3;
    if (ch !== 1 && ch !== 3) throw new RangeError(`Pipeline: channels must be 1 or 3, got ${String(ch)}`);
  }

  static fromSpec(spec: PipelineSpec): Pipeline {
    return new Pipeline(spec.transforms.map(transformFromSpec), spec.options);
  }

  toSpec(): PipelineSpec {
    return { transforms: this.transforms.map((t) => t.spec), options: { ...this.options } };
  }

  get channels(): 1 | 3 {
    return this.options.channels ?? 3;
  }

  /**
   * The libvips steps for the leading deterministic transforms of a width×height image. libvips
   * takes at most extract → resize → extract, so fusion stops at the first step that does not fit.
   */
  #plan(width: number, height: number): SharpOp[] {
    const ops: SharpOp[] = [];
    let stage = 0; // 0: nothing yet, 1: after a pre-resize extract, 2: after resize, 3: done
    let w = width, h = height;
    for (const t of this.transforms) {
      const op = t.sharpOp?.(w, h);
      if (!op) break;
      if (op.op === 'extract' && (stage === 0 || stage === 2)) stage++;
      else if (op.op === 'resize' && stage < 2) stage = 2;
      else break;
      ops.push(op);
      w = op.width;
      h = op.height;
    }
    return ops;
  }

  /** Decodes image bytes and runs the leading transforms that fuse into decoding. */
  async decode(bytes: Uint8Array): Promise<DecodedImage> {
    let ops: SharpOp[] = [];
    if ((this.options.fuseDecode ?? true) && this.transforms[0]?.sharpOp) {
      const { width, height } = await imageSize(bytes, this.options);
      ops = this.#plan(width, height);
    }
    const raw = await decodeImage(bytes, this.options, ops);
    return { ...raw, applied: ops.length };
  }

  /** Runs the transforms the decode step left. */
  finish(decoded: DecodedImage, rng: Rng): FloatImage {
    let i = decoded.applied;
    let img: FloatImage;
    const first = this.transforms[i];
    if (first?.applyRaw) {
      // The first float step reads the bytes itself, saving the separate conversion pass.
      img = first.applyRaw(decoded, rng);
      i++;
    } else {
      img = rawToFloat(decoded);
    }
    for (; i < this.transforms.length; i++) img = this.transforms[i]!.apply(img, rng);
    return img;
  }

  /** Reads (if given a path), decodes and transforms one image; errors name the file. */
  async run(input: PipelineInput, rng: Rng): Promise<FloatImage> {
    const name = describe(input);
    const bytes = input instanceof Uint8Array ? input : await readImageBytes(typeof input === 'string' ? input : input.path);
    let decoded: DecodedImage;
    try {
      decoded = await this.decode(bytes);
    } catch (e) {
      throw new Error(`${name}: cannot decode image: ${(e as Error).message}`);
    }
    try {
      return this.finish(decoded, rng);
    } catch (e) {
      throw new Error(`${name}: transform failed: ${(e as Error).message}`);
    }
  }

  /** The transformed image's CHW floats. */
  async apply(input: PipelineInput, rng: Rng): Promise<Float32Array> {
    return (await this.run(input, rng)).data;
  }
}
