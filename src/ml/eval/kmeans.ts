// k-means on the engine: k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd iterations,
// seedable and deterministic, with chunked assignment so memory stays within a budget.
import {
  Tensor,
  Generator,
  tensor,
  tidy,
  noGrad,
  keep,
  zeros,
  randint,
  multinomial,
  addmm,
} from '../../engine/index.js';
import { checkEmbeddings } from './common.js';
import { DEFAULT_MEMORY_BUDGET_BYTES } from './knn.js';

export interface KMeansOptions {
  /** Seed of the private generator used by k-means++ (default 0): equal seeds, equal results. */
  seed?: number;
  /** Lloyd iterations at most (default 100). */
  maxIter?: number;
  /**
   * Convergence when the summed squared centroid shift is <= tol x the mean per-feature variance
   * (scikit-learn's convention, default 1e-4), or when no assignment changes.
   */
  tol?: number;
  /** Independent k-means++ restarts; the lowest inertia wins (default 1). */
  nInit?: number;
  /** Explicit initial centroids [k, D] instead of k-means++ (then nInit is 1). */
  init?: Tensor;
  /** Bytes for the per-chunk [rows, k] distance block (default 256 MiB). */
  memoryBudgetBytes?: number;
}

export interface KMeansResult {
  /** Cluster of each point, in 0..k-1. */
  assignments: Int32Array;
  /** [k, D] centroids in the input's coordinates (caller disposes). */
  centroids: Tensor;
  /** Sum of squared distances of points to their centroid. */
  inertia: number;
  iterations: number;
  converged: boolean;
}

/**
 * Clusters the rows of x into k groups. Points are centred first (k-means is translation
 * invariant, and centring keeps the |x|^2 - 2 x.c + |c|^2 expansion accurate in float32).
 * An empty cluster is re-seeded with the point farthest from its centroid, as scikit-learn does.
 */
export function kmeans(x: Tensor, k: number, o: KMeansOptions = {}): KMeansResult {
  const { n, d } = checkEmbeddings(x, 'kmeans');
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new RangeError(`kmeans: k must be an integer in [1, ${n}], got ${k}`);
  const maxIter = o.maxIter ?? 100;
  const tol = o.tol ?? 1e-4;
  const nInit = o.init ? 1 : (o.nInit ?? 1);
  if (o.init && (o.init.ndim !== 2 || o.init.shape[0] !== k || o.init.shape[1] !== d)) {
    throw new RangeError(`kmeans: init must be [${k}, ${d}], got [${o.init.shape.join(', ')}]`);
  }
  const eb = x.dtype === 'float64' ? 8 : 4;
  const rows = Math.max(1, Math.floor((o.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES) / (k * eb * 2)));
  return noGrad(() => {
    const { mean, xc, xSq } = tidy(() => {
      const m = x.mean(0, true);
      const c = x.sub(m);
      return { mean: keep(m), xc: keep(c), xSq: keep(c.square().sum(1)) };
    });
    const tolAbs = tidy(() => tol * xc.var(0, 0).mean().item());
    const gen = new Generator(o.seed ?? 0);
    let best: KMeansResult | null = null;
    try {
      for (let run = 0; run < nInit; run++) {
        const init = o.init ? tidy(() => o.init!.to(x.dtype).sub(mean)) : kmeansPlusPlus(xc, xSq, k, gen);
        const r = lloyd(xc, xSq, init, maxIter, tolAbs, rows);
        if (best === null || r.inertia < best.inertia) {
          best?.centroids.dispose();
          best = r;
        } else {
          r.centroids.dispose();
        }
      }
      const c = best!.centroids;
      best!.centroids = keep(c.add(mean));
      c.dispose();
      return best!;
    } finally {
      mean.dispose();
      xc.dispose();
      xSq.dispose();
    }
  });
}

/** k-means++: each new centre is a point drawn with probability proportional to D(x)^2. */
function kmeansPlusPlus(xc: Tensor, xSq: Tensor, k: number, gen: Generator): Tensor {
  const n = xc.shape[0]!;
  const chosen: number[] = [];
  let minD2: Tensor | null = null;
  try {
    for (let c = 0; c < k; c++) {
      const idx: number = tidy(() => {
        if (minD2 === null) return randint(0, n, [1], { generator: gen }).item();
        const p = minD2.clampMin(0);
        // All remaining mass zero (duplicated points): fall back to uniform over unchosen points.
        const w =
          p.sum().item() > 0
            ? p
            : zeros([n], { dtype: 'float64' })
                .add(1)
                .indexPut([tensor(chosen, { dtype: 'int64' })], 0);
        return multinomial(w.to('float64'), 1, false, gen).item();
      });
      chosen.push(idx);
      const next: Tensor = tidy(() => {
        const row = xc.narrow(0, idx, 1);
        const d2 = xSq.sub(xc.mm(row.t()).reshape(-1).mul(2)).add(row.square().sum());
        return minD2 === null ? d2 : minD2.minimum(d2);
      });
      minD2?.dispose();
      minD2 = next;
    }
    return tidy(() => xc.indexSelect(0, tensor(chosen, { dtype: 'int64' })));
  } finally {
    (minD2 as Tensor | null)?.dispose();
  }
}

function lloyd(xc: Tensor, xSq: Tensor, init: Tensor, maxIter: number, tolAbs: number, rows: number): KMeansResult {
  const n = xc.shape[0]!;
  const k = init.shape[0]!;
  let centroids = init;
  let iterations = 0;
  let converged = false;
  let assign = assignStep(xc, xSq, centroids, rows);
  try {
    for (let it = 0; it < maxIter; it++) {
      iterations = it + 1;
      const next = updateStep(xc, assign.labels, assign.dist, centroids, k, n);
      const shift = tidy(() => next.sub(centroids).square().sum().item());
      centroids.dispose();
      centroids = next;
      const prev = assign.labels;
      assign = assignStep(xc, xSq, centroids, rows);
      if (sameLabels(prev, assign.labels) || shift <= tolAbs) {
        converged = true;
        break;
      }
    }
    return { assignments: assign.labels, centroids, inertia: assign.inertia, iterations, converged };
  } catch (e) {
    centroids.dispose();
    throw e;
  }
}

/** Nearest centroid of every point, in chunks of rows. */
function assignStep(
  xc: Tensor,
  xSq: Tensor,
  centroids: Tensor,
  rows: number,
): { labels: Int32Array; dist: Float64Array; inertia: number } {
  const n = xc.shape[0]!;
  const labels = new Int32Array(n);
  const dist = new Float64Array(n);
  let inertia = 0;
  tidy(() => {
    const ct = centroids.t();
    const cSq = centroids.square().sum(1).unsqueeze(0);
    for (let s = 0; s < n; s += rows) {
      const r = Math.min(rows, n - s);
      tidy(() => {
        const dd = addmm(cSq, xc.narrow(0, s, r), ct, 1, -2); // |c|^2 - 2 x.c
        const m = dd.min(1);
        const v = m.values
          .add(xSq.narrow(0, s, r))
          .clampMin(0)
          .data() as Float32Array | Float64Array;
        labels.set(m.indices.int().data() as Int32Array, s);
        for (let i = 0; i < r; i++) {
          dist[s + i] = v[i]!;
          inertia += v[i]!;
        }
      });
    }
  });
  return { labels, dist, inertia };
}

/** Centroid = mean of its points; empty clusters take the farthest points (distinct ones). */
function updateStep(
  xc: Tensor,
  labels: Int32Array,
  dist: Float64Array,
  centroids: Tensor,
  k: number,
  n: number,
): Tensor {
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) counts[labels[i]!]!++;
  const empty: number[] = [];
  for (let c = 0; c < k; c++) if (counts[c] === 0) empty.push(c);
  const lab = Int32Array.from(labels);
  if (empty.length > 0) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => dist[b]! - dist[a]! || a - b);
    let taken = 0;
    for (const c of empty) {
      // Take the farthest point whose own cluster keeps at least one member.
      while (taken < n && counts[lab[order[taken]!]!]! <= 1) taken++;
      if (taken >= n) break;
      const p = order[taken++]!;
      counts[lab[p]!]!--;
      lab[p] = c;
      counts[c] = 1;
    }
  }
  return tidy(() => {
    const idx = tensor(lab, { dtype: 'int64' });
    const sums = zeros([k, xc.shape[1]!], { dtype: xc.dtype }).indexAdd(0, idx, xc);
    const cnt = tensor(Float64Array.from(counts), { dtype: xc.dtype }).unsqueeze(1);
    const safe = cnt.clampMin(1);
    // A cluster still empty (only possible with duplicate-heavy data) keeps its old centroid.
    return sums.div(safe).add(centroids.mul(cnt.eq(0)));
  });
}

function sameLabels(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
