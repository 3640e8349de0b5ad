// torchvision-style transforms, each with a plain-JSON spec so a pipeline can be rebuilt inside a
// worker thread. Like torchvision's, most have two forms: on HWC uint8 images with PIL's
// arithmetic (applyBytes: what torchvision does to PIL images, the reference's path) and on CHW
// float images with torchvision's tensor arithmetic (apply). Random parameters are drawn from the
// Rng passed in, with torchvision's sampling algorithms (RandomResizedCrop's 10 attempts and
// centre fallback, ColorJitter's random order, ...). Deterministic geometry (Resize, CenterCrop)
// can also describe itself as a libvips op, so a pipeline can run it while decoding.
import { crop, hflip, pyRound, resizeBilinear, rotate } from './geometry.js';
import { crop8, hflip8, resize8, rotate8 } from './geometry8.js';
import { colorJitter8 } from './color8.js';
import { rawToFloat, type FloatImage, type RawImage, type SharpOp } from './image.js';
import { MAX_IMAGE_SIDE } from './limits.js';
import { colorJitterFused, type JitterStep } from './jitter.js';
import type { Rng } from '../random.js';

/** [height, width]. */
export type Size2 = [number, number];
export type Range = [number, number];

export type TransformSpec =
  | { type: 'Resize'; size: number | Size2; maxSize?: number }
  | { type: 'CenterCrop'; size: Size2 }
  | { type: 'RandomResizedCrop'; size: Size2; scale: Range; ratio: Range }
  | { type: 'RandomHorizontalFlip'; p: number }
  | {
      type: 'ColorJitter';
      brightness: Range | null;
      contrast: Range | null;
      saturation: Range | null;
      hue: Range | null;
    }
  | {
      type: 'RandomRotation';
      degrees: Range;
      interpolation: 'nearest' | 'bilinear';
      fill: number[];
      center?: [number, number];
    }
  | { type: 'ToTensor' }
  | { type: 'Normalize'; mean: number[]; std: number[] };

export interface Transform {
  readonly spec: TransformSpec;
  apply(img: FloatImage, rng: Rng): FloatImage;
  /** The same step on a PIL-like image (HWC uint8) with PIL's arithmetic, drawing the same random numbers. */
  applyBytes?(img: RawImage, rng: Rng): RawImage;
  /**
   * apply(rawToFloat(img), rng) reading the decoded bytes directly, saving a conversion pass. It
   * may write its result into `into` (which then has the result's length): a batch slot.
   */
  applyRaw?(img: RawImage, rng: Rng, into?: Float32Array): FloatImage;
  /** The same operation as a libvips step on a width×height image, or null where it cannot be one. */
  sharpOp?(width: number, height: number): SharpOp | null;
}

export { MAX_IMAGE_SIDE };

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  if (v > MAX_IMAGE_SIDE) throw new RangeError(`${what} ${v} is over the ${MAX_IMAGE_SIDE}-pixel limit`);
  return v;
}

function size2(size: number | readonly number[], what: string): Size2 {
  if (typeof size === 'number') return [positiveInt(size, what), size];
  if (size.length === 1) return [positiveInt(size[0]!, what), size[0]!];
  if (size.length !== 2) throw new RangeError(`${what} must be a number or [height, width], got [${size.join(', ')}]`);
  return [positiveInt(size[0]!, `${what}[0]`), positiveInt(size[1]!, `${what}[1]`)];
}

function range(v: readonly number[], what: string): Range {
  if (v.length !== 2 || !(v[0]! <= v[1]!))
    throw new RangeError(`${what} must be [min, max] with min <= max, got [${v.join(', ')}]`);
  return [v[0]!, v[1]!];
}

/** torchvision's Resize output size: an int matches the shorter side (longer side truncated). */
export function resizedSize(
  width: number,
  height: number,
  size: number | Size2,
  maxSize?: number,
): { width: number; height: number } {
  if (Array.isArray(size)) return { width: size[1], height: size[0] };
  const s = size as number;
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = s,
    newLong = Math.trunc((s * long) / short);
  if (maxSize !== undefined && newLong > maxSize) {
    newShort = Math.trunc((maxSize * newShort) / newLong);
    newLong = maxSize;
  }
  return width <= height ? { width: newShort, height: newLong } : { width: newLong, height: newShort };
}

/** Resize(size): an int resizes the shorter side to it, [h, w] resizes to exactly that; bilinear, antialiased. */
export class Resize implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'Resize' }>;
  constructor(size: number | readonly number[], opts: { maxSize?: number } = {}) {
    const s =
      typeof size === 'number' || size.length === 1
        ? positiveInt(typeof size === 'number' ? size : size[0]!, 'Resize: size')
        : size2(size, 'Resize: size');
    if (opts.maxSize !== undefined) {
      if (Array.isArray(s)) throw new RangeError('Resize: maxSize only applies when size is a single number');
      if (!(opts.maxSize > (s as number)))
        throw new RangeError(`Resize: maxSize ${opts.maxSize} must exceed size ${s}`);
    }
    this.spec = { type: 'Resize', size: s, ...(opts.maxSize !== undefined ? { maxSize: opts.maxSize } : {}) };
  }
  #out(w: number, h: number): { width: number; height: number } {
    return resizedSize(w, h, this.spec.size, this.spec.maxSize);
  }
  apply(img: FloatImage): FloatImage {
    const o = this.#out(img.width, img.height);
    if (o.width === img.width && o.height === img.height) return img;
    return resizeBilinear(img, o.width, o.height);
  }
  applyRaw(img: RawImage): FloatImage {
    const o = this.#out(img.width, img.height);
    if (o.width === img.width && o.height === img.height) return rawToFloat(img);
    return resizeBilinear(img, o.width, o.height);
  }
  applyBytes(img: RawImage): RawImage {
    const o = this.#out(img.width, img.height);
    if (o.width === img.width && o.height === img.height) return img;
    return resize8(img, o.width, o.height);
  }
  sharpOp(width: number, height: number): SharpOp {
    return { op: 'resize', ...this.#out(width, height) };
  }
}

/** torchvision's centre-crop box (Python rounding); negative offsets mean zero padding. */
function centerBox(width: number, height: number, [th, tw]: Size2): { x: number; y: number } {
  const padL = tw > width ? Math.floor((tw - width) / 2) : 0;
  const padT = th > height ? Math.floor((th - height) / 2) : 0;
  const pw = tw > width ? tw : width,
    ph = th > height ? th : height;
  return { x: pyRound((pw - tw) / 2) - padL, y: pyRound((ph - th) / 2) - padT };
}

export class CenterCrop implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'CenterCrop' }>;
  constructor(size: number | readonly number[]) {
    this.spec = { type: 'CenterCrop', size: size2(size, 'CenterCrop: size') };
  }
  apply(img: FloatImage): FloatImage {
    const [th, tw] = this.spec.size;
    if (th === img.height && tw === img.width) return img;
    const { x, y } = centerBox(img.width, img.height, this.spec.size);
    return crop(img, { x, y, width: tw, height: th });
  }
  applyBytes(img: RawImage): RawImage {
    const [th, tw] = this.spec.size;
    if (th === img.height && tw === img.width) return img;
    const { x, y } = centerBox(img.width, img.height, this.spec.size);
    return crop8(img, { x, y, width: tw, height: th });
  }
  sharpOp(width: number, height: number): SharpOp | null {
    const [th, tw] = this.spec.size;
    if (th > height || tw > width) return null; // needs padding: left to the float path
    const { x, y } = centerBox(width, height, this.spec.size);
    return { op: 'extract', left: x, top: y, width: tw, height: th };
  }
}

/** torchvision's RandomResizedCrop.get_params: up to 10 tries, then a centre crop at a clamped ratio. */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: Range,
  ratio: Range,
  rng: Rng,
): { x: number; y: number; width: number; height: number } {
  const area = width * height;
  const logLo = Math.log(ratio[0]),
    logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(targetArea * aspect));
    const h = pyRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(0, height - h + 1);
      const x = rng.int(0, width - w + 1);
      return { x, y, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = pyRound(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = pyRound(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

export class RandomResizedCrop implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'RandomResizedCrop' }>;
  constructor(size: number | readonly number[], opts: { scale?: readonly number[]; ratio?: readonly number[] } = {}) {
    const scale = range(opts.scale ?? [0.08, 1], 'RandomResizedCrop: scale');
    const ratio = range(opts.ratio ?? [3 / 4, 4 / 3], 'RandomResizedCrop: ratio');
    if (scale[0] <= 0 && scale[1] <= 0)
      throw new RangeError(`RandomResizedCrop: scale must be positive, got [${scale.join(', ')}]`);
    if (ratio[0] <= 0) throw new RangeError(`RandomResizedCrop: ratio must be positive, got [${ratio.join(', ')}]`);
    this.spec = { type: 'RandomResizedCrop', size: size2(size, 'RandomResizedCrop: size'), scale, ratio };
  }
  apply(img: FloatImage | RawImage, rng: Rng): FloatImage {
    const box = randomResizedCropBox(img.width, img.height, this.spec.scale, this.spec.ratio, rng);
    return resizeBilinear(img, this.spec.size[1], this.spec.size[0], box);
  }
  applyRaw(img: RawImage, rng: Rng): FloatImage {
    return this.apply(img, rng);
  }
  applyBytes(img: RawImage, rng: Rng): RawImage {
    const box = randomResizedCropBox(img.width, img.height, this.spec.scale, this.spec.ratio, rng);
    return resize8(img, this.spec.size[1], this.spec.size[0], box);
  }
}

export class RandomHorizontalFlip implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'RandomHorizontalFlip' }>;
  constructor(p = 0.5) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`RandomHorizontalFlip: p must be in [0, 1], got ${p}`);
    this.spec = { type: 'RandomHorizontalFlip', p };
  }
  apply(img: FloatImage, rng: Rng): FloatImage {
    return rng.uniform() < this.spec.p ? hflip(img) : img;
  }
  applyBytes(img: RawImage, rng: Rng): RawImage {
    return rng.uniform() < this.spec.p ? hflip8(img) : img;
  }
}

/** torchvision's ColorJitter._check_input: a number v means [center − v, center + v]; a no-op range becomes null. */
function jitterRange(
  v: number | readonly number[],
  name: string,
  center: number,
  bound: Range,
  clipAtZero: boolean,
): Range | null {
  let r: Range;
  if (typeof v === 'number') {
    if (!(v >= 0)) throw new RangeError(`ColorJitter: ${name} must be non-negative, got ${v}`);
    r = [center - v, center + v];
    if (clipAtZero) r[0] = Math.max(r[0], 0);
  } else {
    r = range(v, `ColorJitter: ${name}`);
  }
  if (!(bound[0] <= r[0] && r[1] <= bound[1]))
    throw new RangeError(`ColorJitter: ${name} must lie within [${bound.join(', ')}], got [${r.join(', ')}]`);
  return r[0] === center && r[1] === center ? null : r;
}

export class ColorJitter implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'ColorJitter' }>;
  constructor(
    brightness: number | readonly number[] = 0,
    contrast: number | readonly number[] = 0,
    saturation: number | readonly number[] = 0,
    hue: number | readonly number[] = 0,
  ) {
    this.spec = {
      type: 'ColorJitter',
      brightness: jitterRange(brightness, 'brightness', 1, [0, Infinity], true),
      contrast: jitterRange(contrast, 'contrast', 1, [0, Infinity], true),
      saturation: jitterRange(saturation, 'saturation', 1, [0, Infinity], true),
      hue: jitterRange(hue, 'hue', 0, [-0.5, 0.5], false),
    };
  }
  /** torchvision's get_params draws — the permutation, then one factor per enabled adjustment — as steps in order. */
  #steps(rng: Rng): JitterStep[] {
    const { brightness, contrast, saturation, hue } = this.spec;
    const order = rng.permutation(4);
    const factors = [brightness, contrast, saturation, hue].map((r) => r && rng.uniform(r[0], r[1]));
    return order.filter((k) => factors[k] !== null).map((k) => ({ op: k as JitterStep['op'], factor: factors[k]! }));
  }
  apply(img: FloatImage, rng: Rng): FloatImage {
    const steps = this.#steps(rng);
    return steps.length ? colorJitterFused(img, steps) : img;
  }
  applyRaw(img: RawImage, rng: Rng): FloatImage {
    const steps = this.#steps(rng);
    return steps.length ? colorJitterFused(img, steps) : rawToFloat(img);
  }
  applyBytes(img: RawImage, rng: Rng): RawImage {
    const steps = this.#steps(rng);
    return steps.length ? colorJitter8(img, steps) : img;
  }
}

/**
 * RandomRotation(degrees): an angle drawn uniformly from [-d, d] (or [min, max]), counter-clockwise
 * about the centre (or `center`, [x, y] in pixels); `fill` is the value of uncovered pixels in
 * [0, 1] (one per channel, or one for all), 255 × it on the PIL path.
 */
export class RandomRotation implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'RandomRotation' }>;
  constructor(
    degrees: number | readonly number[],
    opts: {
      interpolation?: 'nearest' | 'bilinear';
      fill?: number | readonly number[];
      center?: readonly number[];
    } = {},
  ) {
    let d: Range;
    if (typeof degrees === 'number') {
      if (!(degrees >= 0)) throw new RangeError(`RandomRotation: degrees must be non-negative, got ${degrees}`);
      d = [-degrees, degrees];
    } else {
      d = range(degrees, 'RandomRotation: degrees');
    }
    const fill = typeof opts.fill === 'number' ? [opts.fill] : [...(opts.fill ?? [0])];
    this.spec = { type: 'RandomRotation', degrees: d, interpolation: opts.interpolation ?? 'nearest', fill };
    if (opts.center) {
      if (opts.center.length !== 2)
        throw new RangeError(`RandomRotation: center must be [x, y], got [${opts.center.join(', ')}]`);
      this.spec.center = [opts.center[0]!, opts.center[1]!];
    }
  }
  apply(img: FloatImage, rng: Rng): FloatImage {
    const angle = rng.uniform(this.spec.degrees[0], this.spec.degrees[1]);
    return rotate(img, angle, this.spec.interpolation, this.spec.fill, this.spec.center);
  }
  /** PIL's rotate, bit for bit (its fixed-point nearest loop, its truncating bilinear filter). */
  applyBytes(img: RawImage, rng: Rng): RawImage {
    const angle = rng.uniform(this.spec.degrees[0], this.spec.degrees[1]);
    return rotate8(
      img,
      angle,
      this.spec.interpolation,
      this.spec.fill.map((v) => Math.round(v * 255)),
      this.spec.center,
    );
  }
}

/**
 * Where torchvision converts a PIL image to a tensor. Here decoding always ends in a float CHW
 * image in [0, 1], so this is a marker kept for torchvision-shaped lists; it also ends the part of
 * a pipeline that may run inside libvips.
 */
export class ToTensor implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'ToTensor' }> = { type: 'ToTensor' };
  apply(img: FloatImage): FloatImage {
    return img;
  }
  applyRaw(img: RawImage, _rng?: Rng, into?: Float32Array): FloatImage {
    return rawToFloat(img, into && into.length === img.data.length ? into : undefined);
  }
}

export class Normalize implements Transform {
  readonly spec: Extract<TransformSpec, { type: 'Normalize' }>;
  constructor(mean: readonly number[], std: readonly number[]) {
    if (mean.length !== std.length || mean.length === 0)
      throw new RangeError(
        `Normalize: mean and std need the same non-zero length, got ${mean.length} and ${std.length}`,
      );
    if (std.some((s) => !(s !== 0))) throw new RangeError(`Normalize: std must be non-zero, got [${std.join(', ')}]`);
    this.spec = { type: 'Normalize', mean: [...mean], std: [...std] };
  }
  apply(img: FloatImage): FloatImage {
    const { mean, std } = this.spec;
    if (mean.length !== 1 && mean.length !== img.channels)
      throw new RangeError(`Normalize: ${mean.length} means for ${img.channels} channels`);
    const plane = img.width * img.height,
      src = img.data,
      out = new Float32Array(src.length);
    for (let c = 0; c < img.channels; c++) {
      const m = mean[mean.length === 1 ? 0 : c]!,
        s = std[std.length === 1 ? 0 : c]!;
      for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = (src[i]! - m) / s;
    }
    return { data: out, channels: img.channels, height: img.height, width: img.width };
  }
}

/** Rebuilds a transform from its spec (how worker threads get the pipeline). */
export function transformFromSpec(spec: TransformSpec): Transform {
  switch (spec.type) {
    case 'Resize':
      return new Resize(
        typeof spec.size === 'number' ? spec.size : spec.size,
        spec.maxSize !== undefined ? { maxSize: spec.maxSize } : {},
      );
    case 'CenterCrop':
      return new CenterCrop(spec.size);
    case 'RandomResizedCrop':
      return new RandomResizedCrop(spec.size, { scale: spec.scale, ratio: spec.ratio });
    case 'RandomHorizontalFlip':
      return new RandomHorizontalFlip(spec.p);
    case 'ColorJitter':
      return new ColorJitter(spec.brightness ?? 0, spec.contrast ?? 0, spec.saturation ?? 0, spec.hue ?? 0);
    case 'RandomRotation':
      return new RandomRotation(spec.degrees, {
        interpolation: spec.interpolation,
        fill: spec.fill,
        ...(spec.center ? { center: spec.center } : {}),
      });
    case 'ToTensor':
      return new ToTensor();
    case 'Normalize':
      return new Normalize(spec.mean, spec.std);
    default:
      throw new TypeError(`unknown transform spec ${JSON.stringify(spec)}`);
  }
}
