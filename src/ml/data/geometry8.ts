// Geometry on HWC uint8 images with Pillow's own 8-bit arithmetic (Resample.c's fixed-point
// bilinear, crop, transpose), so a pipeline that stays on bytes until ToTensor gives what
// torchvision gives on PIL images — the reference's path — bit for bit.
import { flipBytes, resizeBytes } from '../../engine/image.js';
import type { RawImage } from './image.js';
import type { Box } from './geometry.js';

function checkBox(img: RawImage, box: Box, what: string): void {
  const { width: W, height: H } = img;
  if (!(
    Number.isInteger(box.x) &&
    Number.isInteger(box.y) &&
    Number.isInteger(box.width) &&
    Number.isInteger(box.height)
  )) {
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
export function resize8(
  img: RawImage,
  outWidth: number,
  outHeight: number,
  box: Box = { x: 0, y: 0, width: img.width, height: img.height },
  window?: Box,
): RawImage {
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
  const c0 = Math.max(0, -x),
    c1 = Math.min(w, W - x);
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

/** Python's round(v, 15) for |v| <= 1: the correctly rounded decimal, parsed back. */
const round15 = (v: number): number => Number(v.toFixed(15));

/** Pillow's FLOOR macro: C truncation for non-negative values, floor below zero. */
const cFloor = (v: number): number => (v < 0 ? Math.floor(v) : Math.trunc(v));

/**
 * PIL's img.rotate(degrees, resample, expand=False, center, fillcolor) on HWC bytes, as
 * torchvision's F.rotate calls it: the angle taken mod 360, transposes for 180° (and 90° / 270°
 * on a square image) when no centre is given, otherwise the affine map with its coefficients
 * rounded to 15 decimals. NEAREST goes through Geometry.c's 16.16 fixed-point loop (its double
 * loop when the image is too large for it), BILINEAR through its generic transform, which
 * truncates the interpolated value. Pixels that map outside the image get `fill`.
 */
export function rotate8(
  img: RawImage,
  degrees: number,
  interpolation: 'nearest' | 'bilinear' = 'nearest',
  fill: readonly number[] = [0],
  center?: readonly [number, number],
): RawImage {
  const { channels: C, height: H, width: W, data } = img;
  if (data.length !== W * H * C) throw new RangeError(`rotate: ${data.length} bytes for a ${W}x${H}x${C} image`);
  if (!Number.isFinite(degrees)) throw new RangeError(`rotate: degrees must be finite, got ${degrees}`);
  const angle = ((degrees % 360) + 360) % 360;
  if (!center) {
    if (angle === 0) return { ...img, data: data.slice() };
    if (angle === 180) return hflip8(vflip8(img));
    if ((angle === 90 || angle === 270) && W === H) return transpose8(img, angle === 90);
  }
  const [cx, cy] = center ?? [W / 2, H / 2];
  const rad = -(angle * Math.PI) / 180;
  const a = round15(Math.cos(rad)),
    b = round15(Math.sin(rad)),
    d = round15(-Math.sin(rad)),
    e = round15(Math.cos(rad));
  const c = a * -cx + b * -cy + 0 + cx;
  const f = d * -cx + e * -cy + 0 + cy;
  const out = new Uint8Array(data.length);
  const fillPx = Uint8Array.from({ length: C }, (_, k) =>
    Math.max(0, Math.min(255, Math.trunc(fill[k] ?? fill[0] ?? 0))),
  );
  for (let i = 0; i < W * H; i++) out.set(fillPx, i * C);
  const copyPixel = (o: number, xin: number, yin: number): void => {
    const s = (yin * W + xin) * C;
    for (let k = 0; k < C; k++) out[o + k] = data[s + k]!;
  };
  if (interpolation === 'nearest') {
    const fits = (x: number, y: number): boolean =>
      Math.abs(x * a + y * b + c) < 32768 && Math.abs(x * d + y * e + f) < 32768;
    if (fits(0, 0) && fits(W, H) && fits(0, H) && fits(W, 0)) {
      const fix = (v: number): number => cFloor(v * 65536 + 0.5);
      const a0 = fix(a),
        a1 = fix(b),
        a3 = fix(d),
        a4 = fix(e);
      let a2 = fix(c + a * 0.5 + b * 0.5),
        a5 = fix(f + d * 0.5 + e * 0.5);
      for (let y = 0; y < H; y++) {
        let xx = a2,
          yy = a5;
        for (let x = 0; x < W; x++) {
          const xin = xx >> 16;
          if (xin >= 0 && xin < W) {
            const yin = yy >> 16;
            if (yin >= 0 && yin < H) copyPixel((y * W + x) * C, xin, yin);
          }
          xx += a0;
          yy += a3;
        }
        a2 += a1;
        a5 += a4;
      }
    } else {
      const coord = (v: number): number => (v < 0 ? -1 : Math.trunc(v));
      let xo = c + b * 0.5 + a * 0.5,
        yo = f + e * 0.5 + d * 0.5;
      for (let y = 0; y < H; y++) {
        let xx = xo,
          yy = yo;
        for (let x = 0; x < W; x++) {
          const xin = coord(xx);
          if (xin >= 0 && xin < W) {
            const yin = coord(yy);
            if (yin >= 0 && yin < H) copyPixel((y * W + x) * C, xin, yin);
          }
          xx += a;
          yy += d;
        }
        xo += b;
        yo += e;
      }
    }
    return { data: out, width: W, height: H, channels: C };
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let xin = a * (x + 0.5) + b * (y + 0.5) + c;
      let yin = d * (x + 0.5) + e * (y + 0.5) + f;
      if (xin < 0 || xin >= W || yin < 0 || yin >= H) continue;
      xin -= 0.5;
      yin -= 0.5;
      const x0 = cFloor(xin),
        y0 = cFloor(yin);
      const dx = xin - x0,
        dy = yin - y0;
      const xa = Math.min(Math.max(x0, 0), W - 1),
        xb = Math.min(Math.max(x0 + 1, 0), W - 1);
      const row0 = Math.min(Math.max(y0, 0), H - 1) * W;
      const hasRow1 = y0 + 1 >= 0 && y0 + 1 < H;
      const o = (y * W + x) * C;
      for (let k = 0; k < C; k++) {
        const p0 = data[(row0 + xa) * C + k]!,
          p1 = data[(row0 + xb) * C + k]!;
        const v1 = p0 + (p1 - p0) * dx;
        let v2 = v1;
        if (hasRow1) {
          const q0 = data[((y0 + 1) * W + xa) * C + k]!,
            q1 = data[((y0 + 1) * W + xb) * C + k]!;
          v2 = q0 + (q1 - q0) * dx;
        }
        out[o + k] = Math.trunc(v1 + (v2 - v1) * dy);
      }
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

/** PIL's FLIP_TOP_BOTTOM. */
export function vflip8(img: RawImage): RawImage {
  const { channels: C, height: H, width: W, data } = img;
  const out = new Uint8Array(data.length),
    row = W * C;
  for (let y = 0; y < H; y++) out.set(data.subarray(y * row, (y + 1) * row), (H - 1 - y) * row);
  return { data: out, width: W, height: H, channels: C };
}

/** PIL's ROTATE_90 (counter-clockwise) or ROTATE_270 of an image. */
function transpose8(img: RawImage, ccw: boolean): RawImage {
  const { channels: C, height: H, width: W, data } = img;
  const out = new Uint8Array(data.length);
  // Output is H wide and W tall; ROTATE_90 sends (x, y) to (y, W - 1 - x), ROTATE_270 to (H - 1 - y, x).
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [ox, oy] = ccw ? [y, W - 1 - x] : [H - 1 - y, x];
      const s = (y * W + x) * C,
        o = (oy * H + ox) * C;
      for (let k = 0; k < C; k++) out[o + k] = data[s + k]!;
    }
  }
  return { data: out, width: H, height: W, channels: C };
}
