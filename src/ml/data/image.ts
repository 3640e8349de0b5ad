// Image decoding with sharp (libvips) to raw pixels, and the two in-memory layouts the transforms
// use: RawImage (HWC uint8, what a decoder gives and what PIL holds) and FloatImage (CHW float32
// in [0, 1], what ToTensor gives).
import sharp from 'sharp';
import { bytesToFloat, decodeJpeg } from '../../engine/image.js';
import { INPUT_LIMITS, readInputFile, readInputFileSync, type InputSource } from '../../engine/serialize/input-gate.js';

const IMAGE: InputSource = { format: 'image' };

export interface RawImage {
  /** height × width × channels bytes, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface FloatImage {
  /** channels × height × width floats, nominally in [0, 1]. */
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

export type FailOn = 'none' | 'truncated' | 'error' | 'warning';

export interface DecodeOptions {
  /** 3: RGB (PIL's convert('RGB'), alpha dropped); 1: luma with PIL's convert('L') weights. */
  channels?: 1 | 3;
  /** Refuse images with more pixels than this (decompression bombs). Default: PIL's hard limit, 2 × 89,478,485. */
  maxPixels?: number;
  /** How picky libvips is about damaged files; 'error' (default) fails on truncation and errors, not on warnings. */
  failOn?: FailOn;
}

export const DEFAULT_MAX_PIXELS = 2 * 89_478_485;

/** A geometric step libvips can do during decoding (shrink-on-load, SIMD resampling). */
export type SharpOp =
  | { op: 'resize'; width: number; height: number }
  | { op: 'extract'; left: number; top: number; width: number; height: number };

/**
 * Largest image file read (512 MiB, the input gate's limit for images): far above any photo, and a
 * bound on what a list entry naming a huge file can make the process allocate.
 */
export const MAX_IMAGE_FILE_BYTES = INPUT_LIMITS.image.bytes;

/**
 * Reads an image file's bytes through the input gate (a regular file, at most
 * MAX_IMAGE_FILE_BYTES: not a FIFO, a device, a socket or a directory); the error names the file.
 */
export function readImageBytes(file: string): Promise<Buffer> {
  return readInputFile(file, IMAGE);
}

/**
 * readImageBytes, blocking: for loader workers, which have nothing else to do meanwhile. An async
 * read of a small file takes several thread-pool round trips (stat, open, fstat, read, close):
 * ~0.35 ms of CPU for a 64 KB JPEG here against ~0.06 ms blocking, a tenth of what decoding it costs.
 */
export function readImageBytesSync(file: string): Buffer {
  return readInputFileSync(file, IMAGE);
}

/**
 * Width and height of a JPEG (its first frame header) or PNG (IHDR), read in JS; null for other
 * formats or a header that does not parse (then libvips is asked, and its error reported).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | null {
  const be16 = (i: number): number => (b[i]! << 8) | b[i + 1]!;
  if (
    b.length >= 24 &&
    b[0] === 0x89 &&
    b[1] === 0x50 &&
    b[2] === 0x4e &&
    b[3] === 0x47 &&
    b[12] === 0x49 &&
    b[13] === 0x48 &&
    b[14] === 0x44 &&
    b[15] === 0x52
  ) {
    const width = (be16(16) << 16) + be16(18),
      height = (be16(20) << 16) + be16(22);
    return width > 0 && height > 0 ? { width, height } : null;
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const m = b[i + 1]!;
    if (m === 0xff) {
      i++;
      continue;
    } // fill byte
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    } // markers without a length
    if (m === 0xd9 || m === 0xda) return null; // end of image / scan before any frame header
    // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 9 > b.length) return null;
      const height = be16(i + 5),
        width = be16(i + 7);
      return width > 0 && height > 0 ? { width, height } : null;
    }
    i += 2 + be16(i + 2);
  }
  return null;
}

/** Width and height from the header alone. */
export async function imageSize(
  bytes: Uint8Array,
  opts: DecodeOptions = {},
): Promise<{ width: number; height: number }> {
  const fast = headerSize(bytes);
  if (fast) return fast;
  const meta = await sharp(bytes, {
    limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    failOn: opts.failOn ?? 'error',
  }).metadata();
  if (!meta.width || !meta.height) throw new Error('image has no dimensions');
  return { width: meta.width, height: meta.height };
}

/**
 * Decodes JPEG / PNG / WebP / ... bytes to HWC uint8, applying `ops` in libvips on the way
 * (libvips allows at most extract → resize → extract, in that order). EXIF orientation is not
 * applied, as PIL does not apply it either.
 */
export async function decodeImage(
  bytes: Uint8Array,
  opts: DecodeOptions = {},
  ops: readonly SharpOp[] = [],
): Promise<RawImage> {
  if (ops.length === 0 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // JPEGs go to libjpeg directly, as in Pillow: a libvips pipeline costs ~3x more for a small photo.
    const rgb = decodeJpeg(bytes, { maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: opts.failOn ?? 'error' });
    if (rgb) {
      const img: RawImage = { ...rgb, channels: 3 };
      return (opts.channels ?? 3) === 1 ? rgbToLuma(img) : img;
    }
  }
  let s = sharp(bytes, {
    limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    failOn: opts.failOn ?? 'error',
    sequentialRead: true,
  });
  let resized = false;
  for (const o of ops) {
    if (o.op === 'resize') {
      if (resized) throw new Error('decodeImage: libvips can resize only once per decode');
      s = s.resize({ width: o.width, height: o.height, fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false });
      resized = true;
    } else {
      s = s.extract({ left: o.left, top: o.top, width: o.width, height: o.height });
    }
  }
  const { data, info } = await s
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoder returned ${info.channels} channels, expected 3`);
  const rgb: RawImage = {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: 3,
  };
  return (opts.channels ?? 3) === 1 ? rgbToLuma(rgb) : rgb;
}

/** PIL's convert('L'): L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, i.e. ITU-R 601-2 luma. */
export function rgbToLuma(img: RawImage): RawImage {
  if (img.channels !== 3) throw new Error(`rgbToLuma: expected 3 channels, got ${img.channels}`);
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const d = img.data;
  for (let i = 0, j = 0; i < n; i++, j += 3)
    out[i] = (d[j]! * 19595 + d[j + 1]! * 38470 + d[j + 2]! * 7471 + 0x8000) >>> 16;
  return { data: out, width: img.width, height: img.height, channels: 1 };
}

/** ToTensor's value of each byte (v / 255 as float32): lookups instead of divisions in hot loops. */
export const BYTE_TO_UNIT: Float32Array = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** ToTensor: HWC uint8 → CHW float32 / 255 (in the addon: it runs on every image), into `out` when given. */
export function rawToFloat(img: RawImage, out?: Float32Array): FloatImage {
  const { width: W, height: H, channels: C, data } = img;
  if (data.length !== W * H * C) throw new RangeError(`ToTensor: ${data.length} bytes for a ${W}x${H}x${C} image`);
  if (out && out.length !== data.length)
    throw new RangeError(`ToTensor: output has ${out.length} floats for a ${W}x${H}x${C} image`);
  return { data: bytesToFloat(data, W, H, C, out), channels: C, height: H, width: W };
}

/** CHW float in [0, 1] → HWC uint8 (rounded, clamped); for saving or comparing with PIL. */
export function floatToRaw(img: FloatImage): RawImage {
  const { width: W, height: H, channels: C, data } = img;
  const plane = W * H;
  const out = new Uint8ClampedArray(C * plane);
  for (let c = 0; c < C; c++) for (let i = 0; i < plane; i++) out[i * C + c] = data[c * plane + i]! * 255;
  return { data: new Uint8Array(out.buffer), width: W, height: H, channels: C };
}

/** Encodes a RawImage (for tests, benches, debugging dumps). */
export async function encodeImage(img: RawImage, format: 'png' | 'jpeg', quality = 90): Promise<Buffer> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality }).toBuffer();
}
