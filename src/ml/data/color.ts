// Colour adjustments on CHW float images in [0, 1], with torchvision's tensor semantics
// (functional_tensor.adjust_*): blends clamped to [0, 1], grey = 0.2989 R + 0.587 G + 0.114 B.
// Each writes to `out` (a new array by default); passing the image's own data adjusts in place,
// which ColorJitter does after its first step to save allocations.
import type { FloatImage } from './image.js';

function like(img: FloatImage, data: Float32Array): FloatImage {
  return { data, channels: img.channels, height: img.height, width: img.width };
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function checkRgb(img: FloatImage, what: string): void {
  if (img.channels !== 1 && img.channels !== 3)
    throw new RangeError(`${what}: expected 1 or 3 channels, got ${img.channels}`);
}

/** ratio·img, clamped. */
export function adjustBrightness(
  img: FloatImage,
  factor: number,
  out: Float32Array = new Float32Array(img.data.length),
): FloatImage {
  checkRgb(img, 'adjustBrightness');
  const src = img.data;
  for (let i = 0; i < src.length; i++) out[i] = clamp01(factor * src[i]!);
  return like(img, out);
}

/** The grey plane of an RGB image (or a copy of the one plane of a grey one). */
export function grayscale(img: FloatImage): Float32Array {
  checkRgb(img, 'grayscale');
  const plane = img.width * img.height,
    d = img.data;
  if (img.channels === 1) return d.slice(0, plane);
  const g = new Float32Array(plane);
  for (let i = 0; i < plane; i++) g[i] = 0.2989 * d[i]! + 0.587 * d[plane + i]! + 0.114 * d[2 * plane + i]!;
  return g;
}

/** Blends with the mean grey level: factor·img + (1 − factor)·mean(grey), clamped. */
export function adjustContrast(
  img: FloatImage,
  factor: number,
  out: Float32Array = new Float32Array(img.data.length),
): FloatImage {
  checkRgb(img, 'adjustContrast');
  const plane = img.width * img.height,
    d = img.data;
  let sum = 0;
  if (img.channels === 1) for (let i = 0; i < plane; i++) sum += d[i]!;
  else
    for (let i = 0; i < plane; i++)
      sum += Math.fround(0.2989 * d[i]! + 0.587 * d[plane + i]! + 0.114 * d[2 * plane + i]!);
  const mean = plane ? sum / plane : 0;
  const src = img.data;
  const bias = (1 - factor) * mean;
  for (let i = 0; i < src.length; i++) out[i] = clamp01(factor * src[i]! + bias);
  return like(img, out);
}

/** Blends with the image's own grey version; a no-op on grey images. */
export function adjustSaturation(img: FloatImage, factor: number, out?: Float32Array): FloatImage {
  if (img.channels === 1) {
    if (out && out !== img.data) out.set(img.data);
    return out ? like(img, out) : img;
  }
  out ??= new Float32Array(img.data.length);
  const g = grayscale(img);
  const plane = g.length,
    src = img.data;
  for (let c = 0; c < 3; c++) {
    const o = c * plane;
    for (let i = 0; i < plane; i++) out[o + i] = clamp01(factor * src[o + i]! + (1 - factor) * g[i]!);
  }
  return like(img, out);
}

/**
 * Rotates hue by `factor` turns (in [-0.5, 0.5]) through HSV, as torchvision's _rgb2hsv / _hsv2rgb; no-op on grey
 * images.
 */
export function adjustHue(img: FloatImage, factor: number, out?: Float32Array): FloatImage {
  if (!(factor >= -0.5 && factor <= 0.5))
    throw new RangeError(`adjustHue: factor must be in [-0.5, 0.5], got ${factor}`);
  if (img.channels === 1) {
    if (out && out !== img.data) out.set(img.data);
    return out ? like(img, out) : img;
  }
  checkRgb(img, 'adjustHue');
  out ??= new Float32Array(img.data.length);
  const plane = img.width * img.height,
    src = img.data;
  const px = new Float64Array(3);
  for (let i = 0; i < plane; i++) {
    hueShift(src[i]!, src[plane + i]!, src[2 * plane + i]!, factor, px);
    out[i] = px[0]!;
    out[plane + i] = px[1]!;
    out[2 * plane + i] = px[2]!;
  }
  return like(img, out);
}

/** torchvision's _rgb2hsv → h += f (mod 1) → _hsv2rgb on one pixel, written to px. */
export function hueShift(r: number, g: number, b: number, factor: number, px: Float64Array): void {
  const maxc = Math.max(r, g, b),
    minc = Math.min(r, g, b);
  const eqc = maxc === minc;
  const cr = maxc - minc;
  const s = cr / (eqc ? 1 : maxc);
  const div = eqc ? 1 : cr;
  const rc = (maxc - r) / div,
    gc = (maxc - g) / div,
    bc = (maxc - b) / div;
  let h = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
  h = (h / 6 + 1) % 1;
  h += factor;
  h -= Math.floor(h);
  const v = maxc;
  const i6 = Math.floor(h * 6);
  const fr = h * 6 - i6;
  const p = clamp01(v * (1 - s)),
    q = clamp01(v * (1 - s * fr)),
    t = clamp01(v * (1 - s * (1 - fr)));
  switch (((i6 % 6) + 6) % 6) {
    case 0:
      px[0] = v;
      px[1] = t;
      px[2] = p;
      break;
    case 1:
      px[0] = q;
      px[1] = v;
      px[2] = p;
      break;
    case 2:
      px[0] = p;
      px[1] = v;
      px[2] = t;
      break;
    case 3:
      px[0] = p;
      px[1] = q;
      px[2] = v;
      break;
    case 4:
      px[0] = t;
      px[1] = p;
      px[2] = v;
      break;
    default:
      px[0] = v;
      px[1] = p;
      px[2] = q;
      break;
  }
}
