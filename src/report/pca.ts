// PCA of a point cloud in double precision, by randomized subspace iteration (Halko, Martinsson &
// Tropp 2011): for the t-SNE preprocessing (2,000 x 512 to 50 dims) it costs eight thin matrix
// products (on the engine) and the eigendecomposition of a 60 x 60 matrix, far less than the
// covariance and its full eigendecomposition.

import { type Tensor, tensor, tidy } from '../engine/index.js';
import { REPORT_STREAM, reportRng } from './random.js';
import { orthonormaliseRows, symmetricEigen } from '../ml/linalg.js';

export interface PcaResult {
  /** n x k component scores, row-major (the centred data projected on the top k directions). */
  scores: Float64Array;
  /** Components kept (min(k, d, n)). */
  k: number;
  /** Variance along each kept component (descending). */
  variances: Float64Array;
  /** Fraction of the total variance the kept components explain. */
  explained: number;
}

export type Matrix = Float32Array | Float64Array;

/** Centred copy of a row-major n x d matrix. */
export function centre(x: Matrix, n: number, d: number): Float64Array {
  const out = Float64Array.from(x);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += out[i * d + j]!;
    m /= n;
    for (let i = 0; i < n; i++) out[i * d + j]! -= m;
  }
  return out;
}

// Thin factors are kept transposed (l x n, l x d: one direction per contiguous row) so that every
// product below runs over contiguous memory.

/** out (l x n) with out[j][i] = <x_i, w_j> for x (n x d) and w (l x d): W X^T, on the engine. */
function project(x: Tensor, w: Float64Array, d: number, l: number): Float64Array {
  return tidy(
    () =>
      tensor(w, { shape: [l, d] })
        .mm(x.t())
        .contiguous()
        .data() as Float64Array,
  );
}

/** out (l x d) = q (l x n) @ x (n x d), i.e. (X^T Q)^T, on the engine. */
function backProject(x: Tensor, q: Float64Array, n: number, l: number): Float64Array {
  return tidy(
    () =>
      tensor(q, { shape: [l, n] })
        .mm(x)
        .contiguous()
        .data() as Float64Array,
  );
}

export interface PcaOptions {
  /** Power iterations (default 3): enough for the gap-less spectra of embeddings at t-SNE accuracy. */
  powerIterations?: number;
  /** Extra random directions (default 10). */
  oversample?: number;
  seed?: number;
}

/**
 * Top-k principal component scores of a row-major n x d matrix. When k >= min(n, d) every
 * direction is kept and the result is exact (up to rotation, which t-SNE does not see).
 */
export function pca(x: Matrix, n: number, d: number, k: number, o: PcaOptions = {}): PcaResult {
  if (x.length !== n * d) throw new RangeError(`pca: ${x.length} values for ${n} x ${d}`);
  const xc = centre(x, n, d);
  let total = 0;
  for (let i = 0; i < xc.length; i++) total += xc[i]! ** 2;
  total /= Math.max(1, n - 1);
  const kk = Math.max(1, Math.min(k, n, d));
  const l = Math.min(kk + (o.oversample ?? 10), n, d);
  const q = rangeFinder(xc, n, d, l, o.powerIterations ?? 3, o.seed ?? 0);
  // B = Q^T X (l x d); B B^T = U S^2 U^T; scores = X V = Q U S.
  const b = backProject(q.x, q.q, n, l);
  q.x.dispose();
  const gram = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += b[i * d + p]! * b[j * d + p]!;
      gram[i * l + j] = s;
      gram[j * l + i] = s;
    }
  }
  const { values, vectors } = symmetricEigen(gram, l);
  const scores = new Float64Array(n * kk);
  for (let j = 0; j < kk; j++) {
    const s = Math.sqrt(Math.max(0, values[j]!));
    for (let r = 0; r < l; r++) {
      const u = vectors[r * l + j]! * s;
      if (u === 0) continue;
      const qr = r * n;
      for (let i = 0; i < n; i++) scores[i * kk + j]! += q.q[qr + i]! * u;
    }
  }
  const variances = Float64Array.from(values.subarray(0, kk), (v) => Math.max(0, v) / Math.max(1, n - 1));
  const kept = variances.reduce((a, b) => a + b, 0);
  return { scores, k: kk, variances, explained: total > 0 ? Math.min(1, kept / total) : 1 };
}

/** Orthonormal basis (l x n, rows) of the range of X (X^T X)^q Omega, and X on the engine (the caller disposes it). */
function rangeFinder(
  xc: Float64Array,
  n: number,
  d: number,
  l: number,
  powerIterations: number,
  seed: number,
): { q: Float64Array; x: Tensor } {
  const rng = reportRng(seed, REPORT_STREAM.pcaDirections);
  const omega = new Float64Array(l * d);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  const x = tensor(xc, { shape: [n, d] });
  try {
    let q = project(x, omega, d, l);
    orthonormaliseRows(q, l, n);
    for (let it = 0; it < powerIterations; it++) {
      const z = backProject(x, q, n, l);
      orthonormaliseRows(z, l, d);
      q = project(x, z, d, l);
      orthonormaliseRows(q, l, n);
    }
    return { q, x };
  } catch (e) {
    x.dispose();
    throw e;
  }
}
