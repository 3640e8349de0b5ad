// Image kernels on HWC uint8 pixel buffers (no tensors): what torchvision's PIL backend does in
// C, here in the addon so data workers run them at C speed.
import { native } from './native.js';

/** A region of an image, in pixels. */
export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * PIL's img.crop(box).resize((outWidth, outHeight), BILINEAR) on a width×height×channels HWC
 * uint8 buffer: Pillow's antialiased fixed-point resampler, bit for bit. With `window`, only that
 * region of the result (a crop that follows the resize), computed at the cost of its own pixels.
 */
export function resizeBytes(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  box: PixelBox,
  outWidth: number,
  outHeight: number,
  window?: PixelBox,
): Uint8Array {
  const win: [] | [number, number, number, number] = window ? [window.x, window.y, window.width, window.height] : [];
  return native.resizeBytes(
    src,
    width,
    height,
    channels,
    box.x,
    box.y,
    box.width,
    box.height,
    outWidth,
    outHeight,
    ...win,
  );
}

/**
 * Whether the pixel kernels run hand-vectorised (AVX2) versions: on x86-64 CPUs that have AVX2,
 * unless the environment sets DML_NO_SIMD=1 when the addon loads. Both give the same bytes.
 */
export function imageKernelsUseSimd(): boolean {
  return native.imageSimd;
}

/** One ColorJitter step: 0 brightness, 1 contrast, 2 saturation, 3 hue, with its factor. */
export interface ColorStep {
  op: 0 | 1 | 2 | 3;
  factor: number;
}

/**
 * torchvision's colour adjustments on a PIL image, applied in order to an HWC uint8 buffer of 1 or
 * 3 channels: ImageEnhance.Brightness / Contrast / Color and F_pil.adjust_hue, bit for bit.
 */
export function jitterBytes(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  steps: readonly ColorStep[],
): Uint8Array {
  const ops = Int32Array.from(steps, (s) => s.op),
    factors = Float64Array.from(steps, (s) => s.factor);
  return native.jitterBytes(src, width, height, channels, ops, factors);
}

/** ToTensor: an HWC uint8 buffer to CHW float32 values v / 255, written into `out` when given. */
export function bytesToFloat(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  out?: Float32Array,
): Float32Array {
  return out
    ? native.bytesToFloat(src, width, height, channels, out)
    : native.bytesToFloat(src, width, height, channels);
}

/** PIL's FLIP_LEFT_RIGHT of an HWC uint8 buffer. */
export function flipBytes(src: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  return native.flipBytes(src, width, height, channels);
}

/** How strict decodeJpeg is: 'error' fails on errors and truncated data, 'warning' on any libjpeg warning too. */
export type JpegStrictness = 'none' | 'truncated' | 'error' | 'warning';

/**
 * Decodes a baseline or progressive JPEG to HWC RGB bytes with libjpeg (islow IDCT, fancy
 * upsampling: Pillow's settings). Returns null for CMYK / YCCK files, which it leaves to callers.
 */
export function decodeJpeg(
  bytes: Uint8Array,
  opts: { maxPixels?: number; failOn?: JpegStrictness } = {},
): { data: Uint8Array; width: number; height: number } | null {
  const level = { none: 0, truncated: 1, error: 2, warning: 3 }[opts.failOn ?? 'error'];
  if (level === undefined)
    throw new RangeError(`decodeJpeg: failOn must be none, truncated, error or warning, got ${String(opts.failOn)}`);
  return native.decodeJpeg(bytes, opts.maxPixels ?? Infinity, level);
}
