// The preprocessing that `dml export` states, written from that statement alone, as a user would
// write it beside onnxruntime-node: sharp decodes, Pillow's BILINEAR resample (written out here in
// plain TypeScript) resizes, then a centre crop, byte / 255 and NCHW. No code of src/ is used, so
// a test that compares this with `dml embed` checks the statement, not the code against itself.
import sharp from 'sharp';

interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

const PRECISION_BITS = 32 - 8 - 2;

/** Pillow's precompute_coeffs for BILINEAR (support 1, widened by the scale when shrinking). */
function coefficients(inSize: number, outSize: number): { first: number[]; weights: number[][] } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const ss = 1 / filterscale;
  const first: number[] = [];
  const weights: number[][] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k: number[] = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k.push(w);
      ww += w;
    }
    // normalize_coeffs_8bpc: round half away from zero to 22 fractional bits.
    weights.push(k.map((w) => Math.trunc(0.5 + (ww !== 0 ? w / ww : w) * (1 << PRECISION_BITS))));
    first.push(xmin);
  }
  return { first, weights };
}

const clip8 = (v: number): number => Math.min(255, Math.max(0, v >> PRECISION_BITS));

/** One pass of Pillow's resampler on HWC RGB bytes: along the rows (horizontal) or the columns. */
function resampleAxis(img: Rgb, outW: number, outH: number, horizontal: boolean): Rgb {
  const out = new Uint8Array(outW * outH * 3);
  const { first, weights } = coefficients(horizontal ? img.width : img.height, horizontal ? outW : outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const k = weights[o]!;
      for (let c = 0; c < 3; c++) {
        let s = 1 << (PRECISION_BITS - 1);
        for (let t = 0; t < k.length; t++) {
          const sx = horizontal ? first[o]! + t : x,
            sy = horizontal ? y : first[o]! + t;
          s += img.data[(sy * img.width + sx) * 3 + c]! * k[t]!;
        }
        out[(y * outW + x) * 3 + c] = clip8(s);
      }
    }
  }
  return { data: out, width: outW, height: outH };
}

/** Pillow's Image.resize((outW, outH), BILINEAR): rows first, then columns, each only if its size changes. */
export function pillowBilinear(img: Rgb, outW: number, outH: number): Rgb {
  let r = img;
  if (outW !== r.width) r = resampleAxis(r, outW, r.height, true);
  if (outH !== r.height) r = resampleAxis(r, outW, outH, false);
  return r;
}

/** Python's round (halves to even) of a non-negative half-integer or integer. */
const roundHalfEven = (v: number): number => {
  const f = Math.floor(v);
  return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v);
};

/**
 * The stated preprocessing: decode (alpha dropped, sRGB), shorter side to `resize` (the longer to
 * floor(resize · longer / shorter)) with Pillow's bilinear, centre crop `crop`, byte / 255, CHW.
 */
export async function referencePreprocess(bytes: Uint8Array, resize: number, crop: number): Promise<Float32Array> {
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  let img: Rgb = { data: new Uint8Array(data), width: info.width, height: info.height };
  const short = Math.min(img.width, img.height),
    long = Math.max(img.width, img.height);
  const newLong = Math.floor((resize * long) / short);
  const [w, h] = img.width <= img.height ? [resize, newLong] : [newLong, resize];
  img = pillowBilinear(img, w, h);
  if (img.width < crop || img.height < crop) throw new Error('the reference does not pad: give larger images');
  const left = roundHalfEven((img.width - crop) / 2),
    top = roundHalfEven((img.height - crop) / 2);
  const out = new Float32Array(3 * crop * crop);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < crop; y++)
      for (let x = 0; x < crop; x++)
        out[(c * crop + y) * crop + x] = img.data[((top + y) * img.width + left + x) * 3 + c]! / 255;
  return out;
}
