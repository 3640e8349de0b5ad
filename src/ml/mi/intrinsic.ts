// The "intrinsic scale" of an embedding for kNN entropy estimation: its intrinsic dimension
// (TwoNN) and a PCA whitening to that many components.
//
// Why: the Kozachenko-Leonenko estimator takes the data's dimension d as a constant of its
// formula and assumes the density is locally uniform in a d-dimensional ball. Metric-learning
// embeddings live on far fewer dimensions than they are stored in (L2-normalised ones on a sphere,
// cross-entropy ones near a (C-1)-dimensional class-mean simplex), and their variances differ by
// orders of magnitude between directions. Plugging the storage dimension in scales the
// log-distance term of H(Z) and H(Z|Y) alike by d / d_intrinsic, so their difference — the MI —
// comes out inflated by about that factor. Hence: project onto the top d* principal components,
// d* the TwoNN intrinsic dimension, and whiten them. Whitening is an invertible linear map of the
// projected data, so it leaves I(PZ; Y) unchanged and only makes the neighbourhoods isotropic,
// which lowers the estimator's bias; the projection can only lose information, so the target is
// I(PZ; Y) <= I(Z; Y) (data processing inequality).
import { type Tensor, tensor, tidy, keep } from '../../engine/index.js';
import { checkEmbeddings } from '../eval/common.js';
import { knn } from '../eval/knn.js';
import { topEigen } from '../linalg.js';

/**
 * TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 2017), maximum-likelihood
 * form: mu_i = r2_i / r1_i (second over first neighbour distance) is Pareto(d) distributed, so
 * d = (M - 1) / sum_i log mu_i over the M points with r1_i > 0 (duplicates are skipped).
 */
export function twoNnDimension(x: Tensor, memoryBudgetBytes?: number): number {
  const { n } = checkEmbeddings(x, 'twoNnDimension');
  if (n < 3) throw new RangeError('twoNnDimension: needs at least 3 points');
  const xc = tidy(() => {
    const x64 = x.to('float64');
    return x64.sub(x64.mean(0, true));
  });
  try {
    const r = knn(xc, null, { k: 2, metric: 'l2', memoryBudgetBytes });
    let sum = 0,
      m = 0;
    for (let i = 0; i < n; i++) {
      const r1 = r.scores[i * 2]!,
        r2 = r.scores[i * 2 + 1]!;
      if (r1 > 0 && r2 > r1) {
        sum += Math.log(r2 / r1);
        m++;
      } else if (r1 > 0) m++;
    }
    return m > 1 && sum > 0 ? (m - 1) / sum : 0;
  } finally {
    xc.dispose();
  }
}

export interface WhitenOptions {
  /** Components to keep: a number, or 'auto' (default) = the TwoNN dimension, rounded. */
  dims?: number | 'auto';
  /** Upper bound on the kept components (default 64): the kNN estimator is unreliable far above. */
  maxDims?: number;
  /** Seed of the subspace iteration's start (D > 256). */
  seed?: number;
  memoryBudgetBytes?: number;
}

export interface Whitening {
  /** Whitened coordinates [N, dims], float64 (caller disposes). */
  z: Tensor;
  dims: number;
  /** TwoNN estimate when dims was 'auto', else null. */
  intrinsicDim: number | null;
  /** Numerical rank of the covariance among the computed components. */
  rank: number;
  /** Covariance eigenvalues computed (descending), the kept ones first. */
  eigenvalues: Float64Array;
  /**
   * 0.5 * sum log(eigenvalue) over the kept components: entropy of the PCA projection PZ
   * = entropy of the whitened z + this (the log-Jacobian of the whitening).
   */
  logJacobian: number;
  /** Applies the same centring, projection and whitening to other rows of the same space. */
  apply(x: Tensor): Tensor;
  dispose(): void;
}

/**
 * Centres x, projects on its top principal components and scales each to unit variance. With
 * dims 'auto', the TwoNN dimension is estimated on the projection onto the top
 * min(D, max(128, maxDims + 32)) components (which keeps the neighbourhood geometry, minus the
 * lowest-variance directions) and rounded, then clamped to [1, min(maxDims, rank)].
 */
export function pcaWhiten(x: Tensor, o: WhitenOptions = {}): Whitening {
  const { n, d } = checkEmbeddings(x, 'pcaWhiten');
  if (n < 2) throw new RangeError('pcaWhiten: needs at least 2 points');
  const maxDims = o.maxDims ?? 64;
  const m = Math.min(d, Math.max(128, maxDims + 32));
  const mean = keep(tidy(() => x.to('float64').mean(0, true)));
  const pca = (() => {
    try {
      const cov = tidy(() => {
        const xc = x.to('float64').sub(mean);
        return xc
          .t()
          .mm(xc)
          .div(n - 1);
      });
      try {
        return topEigen(cov, m, o.seed ?? 0);
      } finally {
        cov.dispose();
      }
    } catch (e) {
      mean.dispose();
      throw e;
    }
  })();
  const lmax = Math.max(pca.values[0] ?? 0, 0);
  let rank = 0;
  while (rank < pca.values.length && pca.values[rank]! > 1e-10 * lmax) rank++;
  if (rank === 0) {
    mean.dispose();
    pca.vectors.dispose();
    throw new RangeError('pcaWhiten: the embeddings have zero variance');
  }
  let dims: number,
    intrinsicDim: number | null = null;
  try {
    if (o.dims === undefined || o.dims === 'auto') {
      const proj = tidy(() =>
        x
          .to('float64')
          .sub(mean)
          .mm(pca.vectors.narrow(1, 0, rank)),
      );
      try {
        intrinsicDim = twoNnDimension(proj, o.memoryBudgetBytes);
      } finally {
        proj.dispose();
      }
      dims = Math.round(intrinsicDim);
    } else {
      if (!Number.isInteger(o.dims) || o.dims < 1)
        throw new RangeError(`pcaWhiten: dims must be a positive integer, got ${o.dims}`);
      dims = o.dims;
    }
  } catch (e) {
    mean.dispose();
    pca.vectors.dispose();
    throw e;
  }
  dims = Math.max(1, Math.min(dims, maxDims, rank));
  const scale = tensor(
    Float64Array.from(pca.values.subarray(0, dims), (v) => 1 / Math.sqrt(v)),
    { shape: [1, dims] },
  );
  const w = keep(tidy(() => pca.vectors.narrow(1, 0, dims).mul(scale)));
  scale.dispose();
  pca.vectors.dispose();
  let logJacobian = 0;
  for (let i = 0; i < dims; i++) logJacobian += 0.5 * Math.log(pca.values[i]!);
  const apply = (y: Tensor): Tensor => tidy(() => y.to('float64').sub(mean).mm(w));
  return {
    z: apply(x),
    dims,
    intrinsicDim,
    rank,
    eigenvalues: pca.values,
    logJacobian,
    apply,
    dispose: () => {
      mean.dispose();
      w.dispose();
    },
  };
}
