// ColorJitter's four adjustments fused into per-pixel passes: each adjustment is a function of
// the pixel alone except contrast, which also needs the image's mean grey level at its turn. So
// one pass computes that mean (if contrast is on), a second applies every step and writes the
// output once — instead of one full-image pass and array per step. Same arithmetic as color.ts
// (torchvision's tensor semantics), including float32 rounding between steps.
import type { ColorStep } from '../../engine/image.js';
import { BYTE_TO_UNIT, type FloatImage, type RawImage } from './image.js';
import { clamp01, hueShift } from './color.js';

/** 0 brightness, 1 contrast, 2 saturation, 3 hue: the addon's 8-bit jitter takes the same steps. */
export type JitterStep = ColorStep;

const f32 = Math.fround;

/**
 * Pixels [0, plane) of an RGB image through steps[0, nSteps): written to out (CHW) when given,
 * else only their mean grey level is returned (contrast's input). Reads HWC bytes (via the
 * lookup table) or CHW floats; one specialised loop, locals only, float32 rounding per step.
 */
function rgbPass(
  src: Uint8Array | Float32Array,
  hwc: boolean,
  plane: number,
  ops: Int32Array,
  fs: Float64Array,
  nSteps: number,
  mean: number,
  out: Float32Array | null,
): number {
  const lut = BYTE_TO_UNIT;
  const px = new Float64Array(3);
  let sum = 0;
  for (let i = 0; i < plane; i++) {
    let r: number, g: number, b: number;
    if (hwc) {
      const o = 3 * i;
      r = lut[src[o]!]!;
      g = lut[src[o + 1]!]!;
      b = lut[src[o + 2]!]!;
    } else {
      r = src[i]!;
      g = src[plane + i]!;
      b = src[2 * plane + i]!;
    }
    for (let k = 0; k < nSteps; k++) {
      const f = fs[k]!;
      switch (ops[k]) {
        case 0:
          r = f32(clamp01(f * r));
          g = f32(clamp01(f * g));
          b = f32(clamp01(f * b));
          break;
        case 1: {
          const bias = (1 - f) * mean;
          r = f32(clamp01(f * r + bias));
          g = f32(clamp01(f * g + bias));
          b = f32(clamp01(f * b + bias));
          break;
        }
        case 2: {
          const grey = (1 - f) * f32(0.2989 * r + 0.587 * g + 0.114 * b);
          r = f32(clamp01(f * r + grey));
          g = f32(clamp01(f * g + grey));
          b = f32(clamp01(f * b + grey));
          break;
        }
        default:
          hueShift(r, g, b, f, px);
          r = f32(px[0]!);
          g = f32(px[1]!);
          b = f32(px[2]!);
      }
    }
    if (out) {
      out[i] = r;
      out[plane + i] = g;
      out[2 * plane + i] = b;
    } else {
      sum += f32(0.2989 * r + 0.587 * g + 0.114 * b);
    }
  }
  return sum;
}

/** The one-channel version: saturation and hue do nothing to grey pixels. */
function greyPass(
  src: Uint8Array | Float32Array,
  hwc: boolean,
  plane: number,
  ops: Int32Array,
  fs: Float64Array,
  nSteps: number,
  mean: number,
  out: Float32Array | null,
): number {
  let sum = 0;
  for (let i = 0; i < plane; i++) {
    let v = hwc ? BYTE_TO_UNIT[src[i]!]! : src[i]!;
    for (let k = 0; k < nSteps; k++) {
      const f = fs[k]!;
      if (ops[k] === 0) v = f32(clamp01(f * v));
      else if (ops[k] === 1) v = f32(clamp01(f * v + (1 - f) * mean));
    }
    if (out) out[i] = v;
    else sum += v;
  }
  return sum;
}

/**
 * Runs `steps` in order on an image: a float CHW image, or decoded HWC bytes (read as ToTensor
 * would, so decoding, ToTensor and ColorJitter cost one conversion pass). Returns float CHW.
 */
export function colorJitterFused(img: FloatImage | RawImage, steps: readonly JitterStep[]): FloatImage {
  const { width: W, height: H, channels: C, data } = img;
  if (C !== 1 && C !== 3) throw new RangeError(`ColorJitter: expected 1 or 3 channels, got ${C}`);
  const plane = W * H;
  const hwc = data instanceof Uint8Array;
  const ops = Int32Array.from(steps, (s) => s.op),
    fs = Float64Array.from(steps, (s) => s.factor);
  const pass = C === 3 ? rgbPass : greyPass;
  const contrastAt = steps.findIndex((s) => s.op === 1);
  const mean = contrastAt >= 0 && plane > 0 ? pass(data, hwc, plane, ops, fs, contrastAt, 0, null) / plane : 0;
  const out = new Float32Array(C * plane);
  pass(data, hwc, plane, ops, fs, steps.length, mean, out);
  return { data: out, channels: C, height: H, width: W };
}
