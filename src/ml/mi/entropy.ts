// The Kozachenko-Leonenko k-nearest-neighbour estimator of differential entropy (Kozachenko &
// Leonenko 1987; in the form of Kraskov, Stoegbauer & Grassberger 2004, eq. 20):
//
//   H(Z) ~ psi(N) - psi(k) + log V_d + (d / N) sum_i log eps_i
//
// with eps_i the Euclidean distance from z_i to its k-th nearest other sample and V_d the volume of
// the d-dimensional unit ball. The neighbours come from the exact chunked kNN of ../eval/knn.ts.
import { type Tensor, tidy } from '../../engine/index.js';
import { knn } from '../eval/knn.js';
import { checkEmbeddings } from '../eval/common.js';
import { digamma, logUnitBallVolume } from './special.js';

export interface KnnEntropyOptions {
  /** Neighbour order k (default 3): larger k lowers variance and raises bias. */
  k?: number;
  /** Bytes for the kNN score blocks (default 256 MiB). */
  memoryBudgetBytes?: number;
}

export interface KnnEntropyEstimate {
  /** Estimated differential entropy in nats. */
  nats: number;
  n: number;
  d: number;
  k: number;
  /**
   * Samples whose k-th neighbour is at distance 0 (duplicates): their log-distance is floored at
   * 1e-10 x the RMS radius of the sample, since the estimator assumes a continuous density.
   */
  zeroDistances: number;
}

/**
 * Distances from each row of x to its k-th nearest other row. Computed in float64 on centred data:
 * the kNN ranks by |q|^2 - 2 q.g + |g|^2, whose cancellation in float32 would swamp the small
 * neighbour distances of low-dimensional samples.
 */
export function kthNeighborDistances(x: Tensor, k: number, memoryBudgetBytes?: number): Float64Array {
  const { n } = checkEmbeddings(x, 'kthNeighborDistances');
  if (!Number.isInteger(k) || k < 1 || k > n - 1)
    throw new RangeError(`kthNeighborDistances: k must be an integer in [1, ${n - 1}], got ${k}`);
  const xc = tidy(() => {
    const x64 = x.to('float64');
    return x64.sub(x64.mean(0, true));
  });
  try {
    const r = knn(xc, null, { k, metric: 'l2', memoryBudgetBytes });
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = r.scores[i * r.k + k - 1]!;
    return out;
  } finally {
    xc.dispose();
  }
}

/** Kozachenko-Leonenko entropy estimate of the distribution the rows of x [N, d] are drawn from. */
export function klEntropyEstimate(x: Tensor, o: KnnEntropyOptions = {}): KnnEntropyEstimate {
  const { n, d } = checkEmbeddings(x, 'klEntropy');
  const k = o.k ?? 3;
  const eps = kthNeighborDistances(x, k, o.memoryBudgetBytes);
  const rms = tidy(() => {
    const x64 = x.to('float64');
    return Math.sqrt(x64.sub(x64.mean(0, true)).square().sum(1).mean().item());
  });
  const floor = Math.max(1e-10 * rms, Number.MIN_VALUE);
  let sumLog = 0,
    zero = 0;
  for (let i = 0; i < n; i++) {
    if (!(eps[i]! > 0)) zero++;
    sumLog += Math.log(Math.max(eps[i]!, floor));
  }
  const nats = digamma(n) - digamma(k) + logUnitBallVolume(d) + (d / n) * sumLog;
  return { nats, n, d, k, zeroDistances: zero };
}

/** Kozachenko-Leonenko entropy estimate in nats (see klEntropyEstimate). */
export function klEntropy(x: Tensor, o: KnnEntropyOptions = {}): number {
  return klEntropyEstimate(x, o).nats;
}
