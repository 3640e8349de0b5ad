// Geometry on HWC uint8 images with Pillow's own 8-bit arithmetic (Resample.c's fixed-point
// bilinear, crop, transpose), so a pipeline that stays on bytes until ToTensor gives what
// torchvision gives on PIL images — the reference's path — bit for bit.
import { flipBytes, resizeBytes } from '../../engine/image.js';
import type { RawImage } from './image.js';
import type { Box } from './geometry.js';

function checkBox(img: RawImage, box: Box, what: string): void {
  const { width: W, height: H } = img;
  if (!(Number.isInteger(box.x) && Number.isInteger(box.y) && Number.isInteger(box.width) && Number.isInteger(box.height))) {
    throw new RangeError(`${what}: box must have integer coordinates, got ${JSON.stringify(box)}`);
  }
  if (box.width <= 0 || box.height <= 0 || box.x < 0 || box.y < 0 || box.x + box.width > W || box.y + box.height > H) {
    throw new RangeError(`${what}: box ${JSON.stringify(box)} is not inside the ${W}x${H} image`);
  }
}

/**
 * PIL's img.crop(box).resize((outWidth, outHeight), BILINEAR) on HWC bytes (Pillow's fixed-point
 * resampler, in the addon); with `window`, only that crop of the result, computed on its own.
 */
export function resize8(img: RawImage, outWidth: number, outHeight: number, box: Box = { x: 0, y: 0, width: img.width, height: img.height }, window?: Box): RawImage {
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) {
    throw new RangeError(`resize: output size must be positive integers, got ${outWidth}x${outHeight}`);
  }
  checkBox(img, box, 'resize');
  if (window) checkBox({ ...img, width: outWidth, height: outHeight }, window, 'resize window');
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new RangeError(`resize: ${img.data.length} bytes for a ${img.width}x${img.height}x${img.channels} image`);
  }
  const data = resizeBytes(img.data, img.width, img.height, img.channels, box, outWidth, outHeight, window);
  return { data, width: window?.width ?? outWidth, height: window?.height ?? outHeight, channels: img.channels };
}

/** PIL's crop: parts of the box outside the image are zero (torchvision pads with 0 before a centre crop). */
export function crop8(img: RawImage, box: Box): RawImage {
  const { channels: C, height: H, width: W, data } = img;
  const { x, y, width: w, height: h } = box;
  if (!(w >= 1 && h >= 1)) throw new RangeError(`crop: empty box ${JSON.stringify(box)}`);
  const out = new Uint8Array(h * w * C);
  const c0 = Math.max(0, -x), c1 = Math.min(w, W - x);
  if (c1 > c0) {
    for (let r = 0; r < h; r++) {
      const sr = y + r;
      if (sr < 0 || sr >= H) continue;
      const src = (sr * W + x) * C;
      out.set(data.subarray(src + c0 * C, src + c1 * C), (r * w + c0) * C);
    }
  }
  return { data: out, width: w, height: h, channels: C };
}

/** PIL's FLIP_LEFT_RIGHT (in the addon). */
export function hflip8(img: RawImage): RawImage {
  const { channels: C, height: H, width: W, data } = img;
  if (data.length !== W * H * C) throw new RangeError(`hflip: ${data.length} bytes for a ${W}x${H}x${C} image`);
  return { data: flipBytes(data, W, H, C), width: W, height: H, channels: C };
}
