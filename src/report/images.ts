// Thumbnails for the retrieval examples: the raw pixels of a few evaluation images, encoded as PNG
// data URIs (sharp) so that the report needs no image files.
import sharp from 'sharp';
import type { EvalSource } from '../ml/run/datasets/source.js';

export interface RawImage {
  /** Interleaved 8-bit pixels, height x width x channels. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** A PNG data URI of an image, downscaled (never upscaled) to fit maxSize x maxSize. */
export async function thumbnailDataUri(img: RawImage, maxSize = 96): Promise<string> {
  const { width, height, channels } = img;
  if (img.pixels.length !== width * height * channels)
    throw new RangeError(`thumbnail: ${img.pixels.length} bytes for ${width}x${height}x${channels}`);
  let p = sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
    raw: { width, height, channels },
  });
  if (width > maxSize || height > maxSize) p = p.resize({ width: maxSize, height: maxSize, fit: 'inside' });
  const png = await p.png({ compressionLevel: 9 }).toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** IDX-backed sources keep the raw uint8 images: no need to re-read batches. */
interface RawBacked {
  data: { images: Uint8Array; height: number; width: number };
}
function isRawBacked(s: unknown): s is RawBacked {
  const d = (s as Partial<RawBacked>).data;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.images instanceof Uint8Array &&
    Number.isInteger(d.height) &&
    Number.isInteger(d.width)
  );
}

/**
 * The images of the given sample indices of an evaluation source: straight from the raw arrays
 * of an IDX source, else by reading its batches in order (floats in [0, 1], N x C x H x W).
 */
export async function gatherImages(
  source: EvalSource,
  indices: Iterable<number>,
  batchSize = 256,
): Promise<Map<number, RawImage>> {
  const want = new Set(indices);
  const out = new Map<number, RawImage>();
  if (want.size === 0) return out;
  if (isRawBacked(source)) {
    const { images, height, width } = source.data;
    const plane = height * width;
    for (const i of want) {
      if (i < 0 || (i + 1) * plane > images.length) throw new RangeError(`gatherImages: index ${i} out of range`);
      out.set(i, { pixels: images.slice(i * plane, (i + 1) * plane), width, height, channels: 1 });
    }
    return out;
  }
  let start = 0;
  const last = Math.max(...want);
  for await (const b of source.batches(batchSize)) {
    const [n, c, h, w] = b.shape;
    for (let k = 0; k < n; k++) {
      const i = start + k;
      if (!want.has(i)) continue;
      const channels: 1 | 3 = c === 1 ? 1 : 3;
      const pixels = new Uint8Array(h * w * channels);
      const base = k * c * h * w;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let ch = 0; ch < channels; ch++) {
            const v = b.images[base + ch * h * w + y * w + x]!;
            pixels[(y * w + x) * channels + ch] = Math.max(0, Math.min(255, Math.round(v * 255)));
          }
        }
      }
      out.set(i, { pixels, width: w, height: h, channels });
    }
    start += n;
    if (start > last) break;
  }
  return out;
}
