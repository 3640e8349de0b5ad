// Float64 linear algebra for the PCAs (the MI whitening, the report's t-SNE preprocessing): the
// symmetric eigenproblem runs on the engine (LAPACK through linalg.eigh); Gram-Schmidt stays in JS,
// once, because the subspace iterations keep their bases in JS arrays between engine products.
import { type Tensor, Generator, linalg, randn, tensor, tidy } from '../engine/index.js';

/**
 * Eigen-decomposition of a symmetric n x n matrix (row-major, not modified; its lower triangle is
 * read). Returns eigenvalues in descending order and the eigenvectors as the columns of a
 * row-major n x n matrix.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} entries, got ${matrix.length}`);
  return tidy(() => {
    const e = linalg.eigh(tensor(matrix, { shape: [n, n] }));
    // eigh's order is ascending; flipping the columns gives the descending order PCA wants.
    return {
      values: Float64Array.from(e.values.flip(0).data() as Float64Array),
      vectors: Float64Array.from(e.vectors.flip(1).contiguous().data() as Float64Array),
    };
  });
}

/**
 * Orthonormalises the rows of a row-major rows x cols matrix in place (rows <= cols): modified
 * Gram-Schmidt, applied twice so that the result is orthonormal to machine precision. A row that
 * collapses (it lies in the span of the rows before it, e.g. for rank-deficient data) is replaced
 * by a unit vector orthogonal to them, so that the basis stays complete.
 */
export function orthonormaliseRows(q: Float64Array, rows: number, cols: number): void {
  if (rows > cols) throw new RangeError(`orthonormaliseRows: ${rows} rows cannot be orthonormal in ${cols} dimensions`);
  if (q.length !== rows * cols)
    throw new RangeError(`orthonormaliseRows: expected ${rows * cols} entries, got ${q.length}`);
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < rows; j++) {
      const before = rowNorm(q, j, cols);
      let norm = projectOut(q, j, cols);
      // j < cols orthonormal rows cannot span every axis, so one of the unit vectors tried survives.
      for (let k = j; !(norm > 1e-10 * before) && k < j + cols; k++) {
        q.fill(0, j * cols, (j + 1) * cols);
        q[j * cols + (k % cols)] = 1;
        norm = projectOut(q, j, cols);
      }
      const inv = 1 / norm;
      for (let i = j * cols; i < (j + 1) * cols; i++) q[i]! *= inv;
    }
  }
}

function rowNorm(q: Float64Array, j: number, cols: number): number {
  let s = 0;
  for (let i = j * cols; i < (j + 1) * cols; i++) s += q[i]! ** 2;
  return Math.sqrt(s);
}

/** Subtracts from row j its components along rows 0..j-1 (assumed orthonormal); returns its norm after. */
function projectOut(q: Float64Array, j: number, cols: number): number {
  const oj = j * cols;
  for (let p = 0; p < j; p++) {
    const op = p * cols;
    let dot = 0;
    for (let i = 0; i < cols; i++) dot += q[oj + i]! * q[op + i]!;
    if (dot !== 0) for (let i = 0; i < cols; i++) q[oj + i]! -= dot * q[op + i]!;
  }
  return rowNorm(q, j, cols);
}

/**
 * The top m eigenpairs of a symmetric positive semi-definite [n, n] float64 tensor: one eigh when
 * n <= 256, else subspace iteration (products on the engine, orthonormalisation in JS, the m x m
 * Rayleigh-Ritz problem by symmetricEigen) until the leading half of the Ritz pairs have residuals
 * below 1e-10 of the top eigenvalue (at most 500 iterations).
 * Eigenvectors come back as the columns of an [n, m] float64 tensor (caller disposes).
 */
export function topEigen(cov: Tensor, m: number, seed = 0): { values: Float64Array; vectors: Tensor } {
  const n = cov.shape[0]!;
  m = Math.min(m, n);
  if (n <= 256) {
    return tidy(() => {
      const e = linalg.eigh(cov);
      const values = Float64Array.from(e.values.flip(0).narrow(0, 0, m).data() as Float64Array);
      return { values, vectors: e.vectors.flip(1).narrow(1, 0, m).contiguous() };
    });
  }
  // The basis Q is kept as m rows of length n (one direction per contiguous row).
  const gen = new Generator(seed);
  let q = Float64Array.from(
    tidy(() => randn([n, m], { dtype: 'float64', generator: gen }).t().contiguous().data() as Float64Array),
  );
  orthonormaliseRows(q, m, n);
  let ritz: { values: Float64Array; vectors: Float64Array } = {
    values: new Float64Array(m),
    vectors: new Float64Array(m * m),
  };
  const check = Math.max(1, Math.ceil(m / 2));
  for (let it = 0; it < 500; it++) {
    // Y = Q C (rows: C q_j, as C is symmetric) and B = Q C Q^T.
    const { y, b } = tidy(() => {
      const qt = tensor(q, { shape: [m, n] });
      const yq = qt.mm(cov);
      return {
        y: Float64Array.from(yq.data() as Float64Array),
        b: Float64Array.from(yq.mm(qt.t()).data() as Float64Array),
      };
    });
    ritz = symmetricEigen(symmetrize(b, m), m);
    // Converged when the leading half of the Ritz pairs (the oversampled rest converges slower and
    // is not used) have residuals |C v - theta v| <= 1e-10 theta_1, with v = Q^T u and C v = Y^T u.
    let worst = 0;
    for (let c = 0; c < check; c++) {
      let res = 0;
      for (let r = 0; r < n; r++) {
        let cv = 0,
          v = 0;
        for (let j = 0; j < m; j++) {
          const u = ritz.vectors[j * m + c]!;
          cv += y[j * n + r]! * u;
          v += q[j * n + r]! * u;
        }
        res += (cv - ritz.values[c]! * v) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(res));
    }
    if (worst <= 1e-10 * Math.abs(ritz.values[0]!)) break;
    orthonormaliseRows(y, m, n);
    q = y;
  }
  // Ritz vectors: Q^T U (U from the last Rayleigh-Ritz step on the current Q).
  const u = ritz.vectors;
  const vectors = tidy(() =>
    tensor(q, { shape: [m, n] })
      .t()
      .mm(tensor(u, { shape: [m, m] })),
  );
  return { values: ritz.values, vectors };
}

function symmetrize(b: Float64Array, m: number): Float64Array {
  const s = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) s[i * m + j] = 0.5 * (b[i * m + j]! + b[j * m + i]!);
  return s;
}
