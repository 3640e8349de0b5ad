// Exact t-SNE (van der Maaten & Hinton 2008) in plain double precision: PCA to 50 dimensions,
// Gaussian affinities calibrated to a perplexity by bisection, symmetrised joint P over all pairs
// (no nearest-neighbour truncation, no Barnes-Hut), Student-t Q, gradient descent with momentum,
// per-coordinate gains and early exaggeration. O(N^2) memory and time per iteration: meant for
// the few thousand points of a report (2,000 points, 500 iterations: a few seconds).

import { pca, type Matrix } from './pca.js';
import { REPORT_STREAM, reportRng } from './random.js';

/** Gradient-descent iterations when the caller names none. */
export const TSNE_DEFAULT_ITERATIONS = 500;

export interface TsneOptions {
  /** Effective number of neighbours (default 30; capped at (N - 1) / 3 for small N). */
  perplexity?: number;
  /** Gradient-descent iterations, exaggeration phase included (default 500). */
  iterations?: number;
  /** P is multiplied by this during the first exaggerationIterations (default 12). */
  earlyExaggeration?: number;
  /** Default 125 (a quarter of the default iterations). */
  exaggerationIterations?: number;
  /** Step size; 'auto' (default) = max(N / earlyExaggeration, 50) (Belkina et al. 2019). */
  learningRate?: number | 'auto';
  /** Dimensions kept by the PCA that precedes t-SNE (default 50; 0 = no PCA). */
  pcaDims?: number;
  /** 'pca' (default): the first two principal components scaled to std 1e-4; 'random': N(0, 1e-4^2). */
  init?: 'pca' | 'random';
  /** L2-normalise the input rows first (cosine geometry, as the retrieval metrics). Default false. */
  normalize?: boolean;
  seed?: number;
  /** Called every 50 iterations with the current KL divergence (costs one extra pass). */
  onProgress?: (iteration: number, kl: number) => void;
}

export interface TsneResult {
  /** N x 2 coordinates, row-major, centred. */
  embedding: Float64Array;
  n: number;
  /** KL(P || Q) of the final map (without exaggeration). */
  kl: number;
  perplexity: number;
  iterations: number;
  /** Fraction of variance the PCA step kept (1 without PCA). */
  pcaExplained: number;
  seconds: number;
}

/** Squared Euclidean distances between the rows of a row-major n x d matrix (full n x n). */
export function squaredDistances(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const oi = i * d;
    for (let j = i + 1; j < n; j++) {
      const oj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = x[oi + k]! - x[oj + k]!;
        s += t * t;
      }
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/**
 * Conditional probabilities p_j|i (n x n, rows summing to 1, zero diagonal) from squared
 * distances: each row's Gaussian precision is solved for until the row's entropy is log(perplexity).
 */
export function conditionalProbabilities(dist: Float64Array, n: number, perplexity: number, tol = 1e-5): Float64Array {
  const target = Math.log(perplexity);
  const p = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const off = i * n;
    let dmin = Infinity;
    for (let j = 0; j < n; j++) if (j !== i && dist[off + j]! < dmin) dmin = dist[off + j]!;
    // Safeguarded Newton on beta (dH/dbeta = -beta Var(d)), bisection when a step leaves the
    // bracket: ~7 passes per row instead of ~20 for plain bisection.
    let beta = 1,
      lo = 0,
      hi = Infinity;
    let mean = 0;
    for (let j = 0; j < n; j++) mean += dist[off + j]!;
    mean = mean / Math.max(1, n - 1) - dmin;
    if (mean > 0) beta = 1 / mean;
    for (let it = 0; it < 200; it++) {
      let sum = 0,
        dsum = 0,
        d2sum = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) {
          row[j] = 0;
          continue;
        }
        const dd = dist[off + j]! - dmin;
        const e = dd * beta;
        // exp(-40) < 5e-18 of the nearest point's weight: below double precision in every sum here.
        const v = e > 40 ? 0 : Math.exp(-e);
        row[j] = v;
        sum += v;
        dsum += dd * v;
        d2sum += dd * dd * v;
      }
      const mu = dsum / sum;
      const diff = Math.log(sum) + beta * mu - target;
      if (Math.abs(diff) < tol) break;
      if (diff > 0) lo = beta;
      else hi = beta;
      const variance = d2sum / sum - mu * mu;
      let next = variance > 0 ? beta + diff / (beta * variance) : NaN;
      if (!(next > lo && next < hi)) next = hi === Infinity ? beta * 2 : (lo + hi) / 2;
      if (next === beta) break;
      beta = next;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += row[j]!;
    for (let j = 0; j < n; j++) p[off + j] = row[j]! / sum;
  }
  return p;
}

/**
 * Joint probabilities P (n x n, symmetric, zero diagonal, summing to 1 up to the 1e-12 floor):
 * p_ij = (p_j|i + p_i|j) / 2n.
 */
export function jointProbabilities(dist: Float64Array, n: number, perplexity: number, tol = 1e-5): Float64Array {
  const p = conditionalProbabilities(dist, n, perplexity, tol);
  // Symmetrise: p_ij = (p_j|i + p_i|j) / 2n, floored away from 0 for the KL's log.
  const scale = 1 / (2 * n);
  for (let i = 0; i < n; i++) {
    p[i * n + i] = 0;
    for (let j = i + 1; j < n; j++) {
      const v = Math.max((p[i * n + j]! + p[j * n + i]!) * scale, 1e-12);
      p[i * n + j] = v;
      p[j * n + i] = v;
    }
  }
  return p;
}

/** KL(P || Q) of a 2-D map for joint probabilities P. */
export function klDivergence(p: Float64Array, y: Float64Array, n: number): number {
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = y[2 * i]! - y[2 * j]!,
        dy = y[2 * i + 1]! - y[2 * j + 1]!;
      z += 2 / (1 + dx * dx + dy * dy);
    }
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const pij = p[i * n + j]!;
      const dx = y[2 * i]! - y[2 * j]!,
        dy = y[2 * i + 1]! - y[2 * j + 1]!;
      const q = Math.max(1 / (1 + dx * dx + dy * dy) / z, 1e-300);
      kl += 2 * pij * Math.log(pij / q);
    }
  }
  return kl;
}

/**
 * One pass over all pairs: the gradient of KL(exaggeration * P || Q) into grad (n x 2),
 * 4 sum_j (e p_ij - q_ij) w_ij (y_i - y_j) with w_ij = 1 / (1 + |y_i - y_j|^2), q_ij = w_ij / Z.
 * Attraction and repulsion are summed apart so that Z is needed only at the end.
 */
function gradient(
  p: Float64Array,
  y: Float64Array,
  n: number,
  exaggeration: number,
  grad: Float64Array,
  rep: Float64Array,
): void {
  grad.fill(0);
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const yix = y[2 * i]!,
      yiy = y[2 * i + 1]!;
    const off = i * n;
    let ax = 0,
      ay = 0,
      rx = 0,
      ry = 0;
    for (let j = i + 1; j < n; j++) {
      const dx = yix - y[2 * j]!,
        dy = yiy - y[2 * j + 1]!;
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      const a = p[off + j]! * w;
      const r = w * w;
      ax += a * dx;
      ay += a * dy;
      rx += r * dx;
      ry += r * dy;
      grad[2 * j]! -= a * dx;
      grad[2 * j + 1]! -= a * dy;
      rep[2 * j]! -= r * dx;
      rep[2 * j + 1]! -= r * dy;
    }
    grad[2 * i]! += ax;
    grad[2 * i + 1]! += ay;
    rep[2 * i]! += rx;
    rep[2 * i + 1]! += ry;
  }
  const invZ = 1 / (2 * z);
  for (let k = 0; k < 2 * n; k++) grad[k] = 4 * (exaggeration * grad[k]! - rep[k]! * invZ);
}

/** t-SNE of the rows of a row-major n x d matrix into 2 dimensions. Deterministic for a seed. */
export function tsne(x: Matrix, n: number, d: number, o: TsneOptions = {}): TsneResult {
  const t0 = performance.now();
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`tsne: need at least 2 points, got ${n}`);
  if (x.length !== n * d) throw new RangeError(`tsne: ${x.length} values for ${n} x ${d}`);
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i]!)) throw new RangeError(`tsne: non-finite input at row ${Math.floor(i / d)}`);
  const seed = o.seed ?? 0;
  const perplexity = Math.max(1, Math.min(o.perplexity ?? 30, (n - 1) / 3));
  const iterations = o.iterations ?? TSNE_DEFAULT_ITERATIONS;
  const exaggeration = o.earlyExaggeration ?? 12;
  const exIters = Math.min(iterations, o.exaggerationIterations ?? Math.round(iterations / 4));
  const lr =
    o.learningRate === undefined || o.learningRate === 'auto' ? Math.max(n / exaggeration, 50) : o.learningRate;

  let input: Float64Array = Float64Array.from(x);
  if (o.normalize) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += input[i * d + k]! ** 2;
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let k = 0; k < d; k++) input[i * d + k]! *= inv;
    }
  }
  let dims = d,
    pcaExplained = 1;
  const pcaDims = o.pcaDims ?? 50;
  if (pcaDims > 0 && d > pcaDims) {
    const r = pca(input, n, d, pcaDims, { seed });
    input = r.scores;
    dims = r.k;
    pcaExplained = r.explained;
  }

  const p = jointProbabilities(squaredDistances(input, n, dims), n, perplexity);

  // Initial map.
  const y = new Float64Array(2 * n);
  const init = o.init ?? 'pca';
  if (init === 'pca' && dims >= 2) {
    const r = dims === 2 ? { scores: input } : pca(input, n, dims, 2, { seed });
    let sd = 0,
      m0 = 0;
    for (let i = 0; i < n; i++) m0 += r.scores[i * 2]!;
    m0 /= n;
    for (let i = 0; i < n; i++) sd += (r.scores[i * 2]! - m0) ** 2;
    sd = Math.sqrt(sd / n);
    const s = sd > 0 ? 1e-4 / sd : 0;
    const rng = reportRng(seed, REPORT_STREAM.tsneInit);
    for (let i = 0; i < 2 * n; i++) y[i] = s > 0 ? r.scores[i]! * s : 1e-4 * rng.normal();
  } else {
    const rng = reportRng(seed, REPORT_STREAM.tsneInit);
    for (let i = 0; i < 2 * n; i++) y[i] = 1e-4 * rng.normal();
  }

  const grad = new Float64Array(2 * n),
    rep = new Float64Array(2 * n);
  const update = new Float64Array(2 * n),
    gains = new Float64Array(2 * n).fill(1);
  for (let it = 0; it < iterations; it++) {
    const ex = it < exIters ? exaggeration : 1;
    const momentum = it < exIters ? 0.5 : 0.8;
    gradient(p, y, n, ex, grad, rep);
    for (let k = 0; k < 2 * n; k++) {
      const g = grad[k]!;
      // Delta-bar-delta gains: grow while the gradient keeps opposing the last step.
      gains[k] = g > 0 !== update[k]! > 0 ? gains[k]! + 0.2 : Math.max(gains[k]! * 0.8, 0.01);
      update[k] = momentum * update[k]! - lr * gains[k]! * g;
      y[k]! += update[k]!;
    }
    let mx = 0,
      my = 0;
    for (let i = 0; i < n; i++) {
      mx += y[2 * i]!;
      my += y[2 * i + 1]!;
    }
    mx /= n;
    my /= n;
    for (let i = 0; i < n; i++) {
      y[2 * i]! -= mx;
      y[2 * i + 1]! -= my;
    }
    if (o.onProgress && (it + 1) % 50 === 0) o.onProgress(it + 1, klDivergence(p, y, n));
  }
  return {
    embedding: y,
    n,
    kl: klDivergence(p, y, n),
    perplexity,
    iterations,
    pcaExplained,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Fraction of points whose k nearest neighbours in a 2-D map mostly share their label (majority
 * vote, ties counted against): how well the map keeps the classes apart.
 */
export function knnAgreement(y: Float64Array, labels: ArrayLike<number>, k = 5): number {
  const n = labels.length;
  let good = 0;
  const dist = new Float64Array(n);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dx = y[2 * i]! - y[2 * j]!,
        dy = y[2 * i + 1]! - y[2 * j + 1]!;
      dist[j] = j === i ? Infinity : dx * dx + dy * dy;
    }
    const order = Array.from(idx)
      .sort((a, b) => dist[a]! - dist[b]!)
      .slice(0, Math.min(k, n - 1));
    const counts = new Map<number, number>();
    for (const j of order) counts.set(labels[j]!, (counts.get(labels[j]!) ?? 0) + 1);
    const own = counts.get(labels[i]!) ?? 0;
    let best = 0;
    for (const [c, v] of counts) if (c !== labels[i]! && v > best) best = v;
    if (own > best) good++;
  }
  return good / n;
}
