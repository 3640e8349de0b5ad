// The symmetric eigenproblem of a covariance matrix, for PCA: small problems in JS (cyclic Jacobi),
// large ones by subspace iteration whose matrix products run on the engine. Written before the
// engine bound linalg.eigh; moving onto it would shift MI figures in the last digits, so it waits
// for the shared-maths cleanup (one linear-algebra module).
import { type Tensor, Generator, tensor, tidy, randn } from '../../engine/index.js';

/**
 * Eigen-decomposition of a symmetric n x n matrix (row-major, not modified) by cyclic Jacobi
 * rotations: accurate to machine precision, O(n^3) per sweep, fine up to a few hundred.
 * Returns eigenvalues in descending order and the eigenvectors as the columns of a row-major
 * n x n matrix.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} entries, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!, aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!, akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!, aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors[r * n + c] = v[r * n + order[c]!]!;
  return { values, vectors };
}

/** Modified Gram-Schmidt, applied twice, on the columns of a row-major rows x cols matrix (in place). */
function orthonormalizeColumns(m: Float64Array, rows: number, cols: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < cols; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += m[r * cols + i]! * m[r * cols + j]!;
        for (let r = 0; r < rows; r++) m[r * cols + j]! -= dot * m[r * cols + i]!;
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += m[r * cols + j]! ** 2;
      norm = Math.sqrt(norm);
      // A collapsed column (rank-deficient matrix) is replaced by a unit vector e_j, re-orthogonalised next pass.
      if (norm < 1e-300) { for (let r = 0; r < rows; r++) m[r * cols + j] = r === j % rows ? 1 : 0; continue; }
      for (let r = 0; r < rows; r++) m[r * cols + j]! /= norm;
    }
  }
}

/**
 * The top m eigenpairs of a symmetric positive semi-definite [n, n] float64 tensor: exact Jacobi
 * when n <= 256, else subspace iteration (products on the engine, orthonormalisation and the
 * m x m Rayleigh-Ritz problem in JS) until the leading half of the Ritz pairs have residuals
 * below 1e-10 of the top eigenvalue (at most 500 iterations).
 * Eigenvectors come back as the columns of an [n, m] float64 tensor (caller disposes).
 */
export function topEigen(cov: Tensor, m: number, seed = 0): { values: Float64Array; vectors: Tensor } {
  const n = cov.shape[0]!;
  m = Math.min(m, n);
  if (n <= 256) {
    const { values, vectors } = symmetricEigen(Float64Array.from(cov.data() as Float64Array), n);
    const cols = new Float64Array(n * m);
    for (let r = 0; r < n; r++) for (let c = 0; c < m; c++) cols[r * m + c] = vectors[r * n + c]!;
    return { values: values.slice(0, m), vectors: tensor(cols, { shape: [n, m] }) };
  }
  const gen = new Generator(seed);
  let q = Float64Array.from(tidy(() => randn([n, m], { dtype: 'float64', generator: gen }).data() as Float64Array));
  orthonormalizeColumns(q, n, m);
  let ritz: { values: Float64Array; vectors: Float64Array } = { values: new Float64Array(m), vectors: new Float64Array(m * m) };
  const check = Math.max(1, Math.ceil(m / 2));
  for (let it = 0; it < 500; it++) {
    const { y, b } = tidy(() => {
      const qt = tensor(q, { shape: [n, m] });
      const cq = cov.mm(qt);
      return { y: Float64Array.from(cq.data() as Float64Array), b: Float64Array.from(qt.t().mm(cq).data() as Float64Array) };
    });
    ritz = symmetricEigen(symmetrize(b, m), m);
    // Converged when the leading half of the Ritz pairs (the oversampled rest converges slower and
    // is not used) have residuals |C v - theta v| <= 1e-10 theta_1, with v = Q u and C v = Y u.
    let worst = 0;
    for (let c = 0; c < check; c++) {
      let res = 0;
      for (let r = 0; r < n; r++) {
        let cv = 0, v = 0;
        for (let j = 0; j < m; j++) { const u = ritz.vectors[j * m + c]!; cv += y[r * m + j]! * u; v += q[r * m + j]! * u; }
        res += (cv - ritz.values[c]! * v) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(res));
    }
    if (worst <= 1e-10 * Math.abs(ritz.values[0]!)) break;
    orthonormalizeColumns(y, n, m);
    q = y;
  }
  // Ritz vectors: Q U (U from the last Rayleigh-Ritz step on the current Q).
  const u = ritz.vectors;
  const vectors = tidy(() => tensor(q, { shape: [n, m] }).mm(tensor(u, { shape: [m, m] })));
  return { values: ritz.values, vectors };
}

function symmetrize(b: Float64Array, m: number): Float64Array {
  const s = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) s[i * m + j] = 0.5 * (b[i * m + j]! + b[j * m + i]!);
  return s;
}
