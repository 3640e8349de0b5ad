// Eval-mode BatchNorm folding, on plain typed arrays.
//
// In eval mode a BatchNorm is a per-channel affine map y = s·x + t with
//   s = γ / √(running_var + ε),  t = β − running_mean·s,
// so a conv (or linear) followed by it is again a conv (linear) with weights scaled per output
// channel and a bias, and an affine map *before* a linear layer folds into that layer's weights
// per input feature. Folding removes the BN ops from the exported graph (fewer kernels, no
// BatchNormalization op to support) and is exact up to float rounding; the arithmetic is done in
// float64 and rounded once to float32 so the folded model stays within ~1 ulp of the original.

/** The eval-mode parameters of a BatchNorm (weight/bias null when it is not affine). */
export interface BnParams {
  runningMean: Float32Array;
  runningVar: Float32Array;
  weight: Float32Array | null;
  bias: Float32Array | null;
  eps: number;
}

/** A per-channel affine map y = scale·x + shift, in float64. */
export interface Affine {
  scale: Float64Array;
  shift: Float64Array;
}

/** The affine map an eval-mode BatchNorm applies per channel. */
export function bnAffine(bn: BnParams): Affine {
  const c = bn.runningMean.length;
  if (bn.runningVar.length !== c || (bn.weight && bn.weight.length !== c) || (bn.bias && bn.bias.length !== c)) {
    throw new RangeError('bnAffine: running stats and affine parameters differ in length');
  }
  const scale = new Float64Array(c),
    shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    const s = (bn.weight ? bn.weight[i]! : 1) / Math.sqrt(bn.runningVar[i]! + bn.eps);
    scale[i] = s;
    shift[i] = (bn.bias ? bn.bias[i]! : 0) - bn.runningMean[i]! * s;
  }
  return { scale, shift };
}

/**
 * conv(x; W, b) followed by y = scale·x + shift per output channel, as one conv:
 * W'[o, …] = scale[o]·W[o, …], b'[o] = scale[o]·b[o] + shift[o]. W is [out, in/groups, kh, kw]
 * flattened (any trailing layout works: only the leading out-channel dimension matters), so the
 * same function folds a Linear [out, in] followed by a per-output affine map.
 */
export function foldOutputAffine(
  weight: Float32Array,
  bias: Float32Array | null,
  a: Affine,
): { weight: Float32Array; bias: Float32Array } {
  const out = a.scale.length;
  if (out === 0 || weight.length % out !== 0)
    throw new RangeError(`foldOutputAffine: weight of ${weight.length} elements is not ${out} output channels`);
  if (bias && bias.length !== out)
    throw new RangeError(`foldOutputAffine: bias has ${bias.length} elements, expected ${out}`);
  const per = weight.length / out;
  const w = new Float32Array(weight.length),
    b = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const s = a.scale[o]!;
    for (let k = o * per, end = k + per; k < end; k++) w[k] = weight[k]! * s;
    b[o] = (bias ? bias[o]! : 0) * s + a.shift[o]!;
  }
  return { weight: w, bias: b };
}

/**
 * A per-feature affine map x ↦ scale·x + shift followed by a Linear (W [out, in], b [out]), as one
 * Linear: W'[o, i] = W[o, i]·scale[i], b'[o] = b[o] + Σ_i W[o, i]·shift[i].
 */
export function foldInputAffine(
  weight: Float32Array,
  bias: Float32Array | null,
  outFeatures: number,
  a: Affine,
): { weight: Float32Array; bias: Float32Array } {
  const inF = a.scale.length;
  if (weight.length !== outFeatures * inF)
    throw new RangeError(`foldInputAffine: weight of ${weight.length} elements is not [${outFeatures}, ${inF}]`);
  if (bias && bias.length !== outFeatures)
    throw new RangeError(`foldInputAffine: bias has ${bias.length} elements, expected ${outFeatures}`);
  const w = new Float32Array(weight.length),
    b = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let acc = bias ? bias[o]! : 0;
    const row = o * inF;
    for (let i = 0; i < inF; i++) {
      const wi = weight[row + i]!;
      w[row + i] = wi * a.scale[i]!;
      acc += wi * a.shift[i]!;
    }
    b[o] = acc;
  }
  return { weight: w, bias: b };
}

/** Rows of W [rows, cols] divided by max(‖row‖₂, eps), as F.normalize(W, dim=1) (a normalised classifier). */
export function normalizeRows(weight: Float32Array, rows: number, eps = 1e-12): Float32Array {
  if (rows <= 0 || weight.length % rows !== 0)
    throw new RangeError(`normalizeRows: ${weight.length} elements are not ${rows} rows`);
  const cols = weight.length / rows,
    out = new Float32Array(weight.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += weight[r * cols + c]! ** 2;
    const n = Math.max(Math.sqrt(ss), eps);
    for (let c = 0; c < cols; c++) out[r * cols + c] = weight[r * cols + c]! / n;
  }
  return out;
}
