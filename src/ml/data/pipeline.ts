// A decode-and-transform pipeline: bytes → decode + the leading deterministic geometry (Resize,
// CenterCrop; in libvips when fused, else with PIL's arithmetic) → the random transforms → float
// CHW. The decode step is deterministic per image, which is what a decoded-image cache keeps.
import {
  decodeImage,
  imageSize,
  rawToFloat,
  readImageBytesSync,
  type DecodeOptions,
  type FloatImage,
  type RawImage,
  type SharpOp,
} from './image.js';
import type { Sample } from './list.js';
import { Rng } from '../random.js';
import { crop8, resize8 } from './geometry8.js';
import { transformFromSpec, type Transform, type TransformSpec } from './transforms.js';

export interface PipelineOptions extends DecodeOptions {
  /**
   * Run leading Resize / CenterCrop inside libvips while decoding (default false). About as fast
   * as the addon's PIL resampler on CUB-sized JPEGs, but not bit-identical to PIL as the default is.
   */
  fuseDecode?: boolean;
  /**
   * What the transforms before ToTensor work on, as in torchvision: 'pil' (default) — 8-bit pixels
   * with PIL's arithmetic, the reference's path and the fastest; 'tensor' — float pixels with
   * torchvision's tensor arithmetic (ColorJitter then differs from PIL's by up to a few levels).
   */
  imageType?: 'pil' | 'tensor';
}

/** What PIL does for a plan (extract → resize → extract, each optional): crop, resize, crop. */
function applyPlan8(img: RawImage, plan: readonly SharpOp[]): RawImage {
  let box = { x: 0, y: 0, width: img.width, height: img.height };
  let size: { width: number; height: number } | null = null;
  let window: { x: number; y: number; width: number; height: number } | undefined;
  for (const op of plan) {
    if (op.op === 'resize') size = { width: op.width, height: op.height };
    else if (size) window = { x: op.left, y: op.top, width: op.width, height: op.height };
    else box = { x: op.left, y: op.top, width: op.width, height: op.height };
  }
  if (!size) return crop8(img, box);
  return resize8(img, size.width, size.height, box, window);
}

export interface PipelineSpec {
  transforms: TransformSpec[];
  options: PipelineOptions;
}

/** The [height, width] a pipeline spec produces (its last fixed-size step). */
export function inputSizeOf(spec: PipelineSpec): [number, number] {
  for (let i = spec.transforms.length - 1; i >= 0; i--) {
    const t = spec.transforms[i]!;
    if (t.type === 'CenterCrop' || t.type === 'RandomResizedCrop') return [t.size[0], t.size[1]];
    if (t.type === 'Resize' && Array.isArray(t.size)) return [t.size[0], t.size[1]];
  }
  throw new Error('preprocessing does not end in a fixed size (no CenterCrop or two-sided Resize)');
}

/** Decoded pixels plus how many of the pipeline's transforms libvips already applied. */
export interface DecodedImage extends RawImage {
  applied: number;
}

/** Handed to deterministic transforms, which draw nothing. */
const NO_RANDOMNESS = new Rng(0);

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
    const kind = options.imageType ?? 'pil';
    if (kind !== 'pil' && kind !== 'tensor')
      throw new RangeError(`Pipeline: imageType must be 'pil' or 'tensor', got ${String(kind)}`);
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
    let w = width,
      h = height;
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

  /** Decodes image bytes and runs the leading deterministic transforms (Resize, CenterCrop). */
  async decode(bytes: Uint8Array): Promise<DecodedImage> {
    let ops: SharpOp[] = [];
    if ((this.options.fuseDecode ?? false) && this.transforms[0]?.sharpOp) {
      const { width, height } = await imageSize(bytes, this.options);
      ops = this.#plan(width, height);
    }
    let raw = await decodeImage(bytes, this.options, ops);
    let applied = ops.length;
    if (!ops.length && (this.options.imageType ?? 'pil') === 'pil') {
      // The same plan in one call of PIL's resampler: a crop after the resize (the test
      // transform's CenterCrop) costs only the pixels it keeps.
      const plan = this.#plan(raw.width, raw.height);
      if (plan.length > 0) raw = applyPlan8(raw, plan);
      applied = plan.length;
      // Transforms that can be libvips ops are the deterministic ones: worth keeping in a cache.
      for (let t = this.transforms[applied]; t?.sharpOp && t.applyBytes; t = this.transforms[++applied])
        raw = t.applyBytes(raw, NO_RANDOMNESS);
    }
    return { ...raw, applied };
  }

  /**
   * Runs the transforms the decode step left. With `into`, a result of its length is written
   * there (a batch slot in shared memory: the loader then copies nothing).
   */
  finish(decoded: DecodedImage, rng: Rng, into?: Float32Array): FloatImage {
    let i = decoded.applied;
    let raw: RawImage = decoded;
    if ((this.options.imageType ?? 'pil') === 'pil') {
      for (let t = this.transforms[i]; t?.applyBytes; t = this.transforms[++i]) raw = t.applyBytes(raw, rng);
    }
    let img: FloatImage;
    const first = this.transforms[i];
    if (first?.applyRaw) {
      // The first float step reads the bytes itself, saving the separate conversion pass.
      img = first.applyRaw(raw, rng, i === this.transforms.length - 1 ? into : undefined);
      i++;
    } else {
      img = rawToFloat(raw, into && into.length === raw.data.length && i === this.transforms.length ? into : undefined);
    }
    for (; i < this.transforms.length; i++) img = this.transforms[i]!.apply(img, rng);
    if (into && img.data !== into && img.data.length === into.length) {
      into.set(img.data);
      img = { ...img, data: into };
    }
    return img;
  }

  /** Reads (if given a path), decodes and transforms one image; errors name the file. */
  async run(input: PipelineInput, rng: Rng): Promise<FloatImage> {
    const name = describe(input);
    // A blocking read, like the decoding after it: an async one costs ~5x its CPU in thread-pool hops.
    const bytes =
      input instanceof Uint8Array ? input : readImageBytesSync(typeof input === 'string' ? input : input.path);
    let decoded: DecodedImage;
    try {
      decoded = await this.decode(bytes);
    } catch (e) {
      throw new Error(`${name}: cannot decode image: ${(e as Error).message}`, { cause: e });
    }
    try {
      return this.finish(decoded, rng);
    } catch (e) {
      throw new Error(`${name}: transform failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The transformed image's CHW floats. */
  async apply(input: PipelineInput, rng: Rng): Promise<Float32Array> {
    return (await this.run(input, rng)).data;
  }
}
