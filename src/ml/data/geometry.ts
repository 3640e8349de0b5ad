// Geometric operations on CHW float images, following PIL's conventions (pixel centres at +0.5,
// antialiased triangle-filter resampling), since torchvision's PIL path is what the reference used.
import { BYTE_TO_UNIT, type FloatImage, type RawImage } from './image.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Coeffs {
  /** Per output index: first input index and tap count. */
  first: Int32Array;
  count: Int32Array;
  /** Per output index, ksize normalised weights. */
  weights: Float32Array;
  ksize: number;
}

/**
 * PIL's precompute_coeffs for the bilinear (triangle) filter: resampling [in0, in0 + inLen) of an
 * axis onto outSize samples; the filter widens by the scale when shrinking. Taps are clipped to
 * [in0, in0 + inLen), as when torchvision crops first and then resizes the crop.
 */
function bilinearCoeffs(in0: number, inLen: number, outSize: number): Coeffs {
  const scale = inLen / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize),
    count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // C's (int) truncates toward zero; both bounds are then clipped to the axis.
    const xmin = in0 + Math.max(Math.trunc(center - in0 - support + 0.5), 0);
    const xmax = in0 + Math.min(Math.trunc(center - in0 + support + 0.5), inLen) - xmin;
    let ww = 0;
    const k = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      weights[k + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[k + x] = weights[k + x]! / ww;
    first[xx] = xmin;
    count[xx] = Math.max(xmax, 0);
  }
  return { first, count, weights, ksize };
}

/**
 * Resizes `box` of `img` to outWidth × outHeight with PIL's antialiased bilinear filter
 * (horizontal pass, then vertical): PIL's img.crop(box).resize(size, BILINEAR), without the copy.
 * A RawImage (HWC uint8) input is read directly and scaled by 1/255, as ToTensor would.
 */
export function resizeBilinear(
  img: FloatImage | RawImage,
  outWidth: number,
  outHeight: number,
  box: Box = { x: 0, y: 0, width: img.width, height: img.height },
): FloatImage {
  const { channels: C, height: H, width: W, data } = img;
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) {
    throw new RangeError(`resize: output size must be positive integers, got ${outWidth}x${outHeight}`);
  }
  if (box.width <= 0 || box.height <= 0 || box.x < 0 || box.y < 0 || box.x + box.width > W || box.y + box.height > H) {
    throw new RangeError(`resize: box ${JSON.stringify(box)} is not inside the ${W}x${H} image`);
  }
  const hc = bilinearCoeffs(box.x, box.width, outWidth);
  const vc = bilinearCoeffs(box.y, box.height, outHeight);
  // Rows the vertical pass reads; only those go through the horizontal pass.
  const yFirst = vc.first[0]!;
  const yLast = vc.first[outHeight - 1]! + vc.count[outHeight - 1]!;
  const rows = yLast - yFirst;
  const tmp = new Float32Array(C * rows * outWidth);
  // Locals rather than property loads in the hot loops.
  const hFirst = hc.first,
    hCount = hc.count,
    hW = hc.weights,
    hK = hc.ksize;
  // Decoded bytes (HWC) are read through ToTensor's lookup table, floats (CHW) directly.
  if (data instanceof Uint8Array) {
    const lut = BYTE_TO_UNIT;
    for (let c = 0; c < C; c++) {
      const tmpPlane = c * rows * outWidth;
      for (let r = 0; r < rows; r++) {
        const inRow = c + (yFirst + r) * W * C,
          tmpRow = tmpPlane + r * outWidth;
        for (let xx = 0; xx < outWidth; xx++) {
          let p = inRow + hFirst[xx]! * C;
          const n = hCount[xx]!,
            k = xx * hK;
          let s = 0;
          for (let t = 0; t < n; t++, p += C) s += lut[data[p]!]! * hW[k + t]!;
          tmp[tmpRow + xx] = s;
        }
      }
    }
  } else {
    for (let c = 0; c < C; c++) {
      const tmpPlane = c * rows * outWidth;
      for (let r = 0; r < rows; r++) {
        const inRow = c * H * W + (yFirst + r) * W,
          tmpRow = tmpPlane + r * outWidth;
        for (let xx = 0; xx < outWidth; xx++) {
          const x0 = inRow + hFirst[xx]!,
            n = hCount[xx]!,
            k = xx * hK;
          let s = 0;
          for (let t = 0; t < n; t++) s += data[x0 + t]! * hW[k + t]!;
          tmp[tmpRow + xx] = s;
        }
      }
    }
  }
  const out = new Float32Array(C * outHeight * outWidth);
  const vFirst = vc.first,
    vCount = vc.count,
    vW = vc.weights,
    vK = vc.ksize;
  for (let c = 0; c < C; c++) {
    const tmpPlane = c * rows * outWidth,
      outPlane = c * outHeight * outWidth;
    for (let yy = 0; yy < outHeight; yy++) {
      const y0 = vFirst[yy]! - yFirst,
        n = vCount[yy]!,
        k = yy * vK;
      const outRow = outPlane + yy * outWidth;
      for (let t = 0; t < n; t++) {
        const w = vW[k + t]!;
        const tmpRow = tmpPlane + (y0 + t) * outWidth;
        for (let xx = 0; xx < outWidth; xx++) out[outRow + xx]! += w * tmp[tmpRow + xx]!;
      }
    }
  }
  return { data: out, channels: C, height: outHeight, width: outWidth };
}

/** Crops `box`; parts of the box outside the image are zero, as torchvision pads before cropping. */
export function crop(img: FloatImage, box: Box): FloatImage {
  const { channels: C, height: H, width: W, data } = img;
  const { x, y, width: w, height: h } = box;
  if (!(w >= 1 && h >= 1)) throw new RangeError(`crop: empty box ${JSON.stringify(box)}`);
  const out = new Float32Array(C * h * w);
  const c0 = Math.max(0, -x),
    c1 = Math.min(w, W - x);
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < h; r++) {
      const sr = y + r;
      if (sr < 0 || sr >= H || c1 <= c0) continue;
      const src = c * H * W + sr * W + x;
      out.set(data.subarray(src + c0, src + c1), c * h * w + r * w + c0);
    }
  }
  return { data: out, channels: C, height: h, width: w };
}

export function hflip(img: FloatImage): FloatImage {
  const { channels: C, height: H, width: W } = img;
  // A native copy, then native in-place row reversals: several times faster than an index loop.
  const out = img.data.slice();
  for (let row = 0; row < C * H; row++) out.subarray(row * W, (row + 1) * W).reverse();
  return { data: out, channels: C, height: H, width: W };
}

/** Python's round(): halves go to the even neighbour. */
export function pyRound(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * PIL's Image.rotate(angle, resample, expand=False, center, fillcolor): counter-clockwise by
 * `degrees` about `center` (default: the image centre), sampling the inverse affine map at output
 * pixel centres; pixels mapping outside the image get `fill`.
 */
export function rotate(
  img: FloatImage,
  degrees: number,
  interpolation: 'nearest' | 'bilinear' = 'nearest',
  fill: readonly number[] = [0],
  center?: [number, number],
): FloatImage {
  const { channels: C, height: H, width: W, data } = img;
  const [cx, cy] = center ?? [W / 2, H / 2];
  const rad = -(degrees * Math.PI) / 180;
  // PIL rounds the matrix to 15 decimals, which makes multiples of 90° exact.
  const r15 = (v: number): number => Math.round(v * 1e15) / 1e15;
  const a = r15(Math.cos(rad)),
    b = r15(Math.sin(rad)),
    d = r15(-Math.sin(rad)),
    e = r15(Math.cos(rad));
  const c = a * -cx + b * -cy + cx;
  const f = d * -cx + e * -cy + cy;
  const out = new Float32Array(data.length);
  const plane = H * W;
  for (let ch = 0; ch < C; ch++) {
    const fv = fill[ch] ?? fill[0] ?? 0;
    const base = ch * plane;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const xin = a * (x + 0.5) + b * (y + 0.5) + c;
        const yin = d * (x + 0.5) + e * (y + 0.5) + f;
        let v = fv;
        if (interpolation === 'nearest') {
          // PIL's COORD(): truncation, anything below 0 is out.
          const ix = xin < 0 ? -1 : Math.trunc(xin),
            iy = yin < 0 ? -1 : Math.trunc(yin);
          if (ix >= 0 && ix < W && iy >= 0 && iy < H) v = data[base + iy * W + ix]!;
        } else if (xin >= 0 && xin < W && yin >= 0 && yin < H) {
          const xs = xin - 0.5,
            ys = yin - 0.5;
          const x0 = Math.floor(xs),
            y0 = Math.floor(ys);
          const dx = xs - x0,
            dy = ys - y0;
          // PIL clamps the neighbours to the image edge.
          const xa = Math.max(x0, 0),
            xb = Math.min(x0 + 1, W - 1),
            ya = Math.max(y0, 0),
            yb = Math.min(y0 + 1, H - 1);
          const top = data[base + ya * W + xa]! * (1 - dx) + data[base + ya * W + xb]! * dx;
          const bot = data[base + yb * W + xa]! * (1 - dx) + data[base + yb * W + xb]! * dx;
          v = top * (1 - dy) + bot * dy;
        }
        out[base + y * W + x] = v;
      }
    }
  }
  return { data: out, channels: C, height: H, width: W };
}
