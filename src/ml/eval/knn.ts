// Exact k-nearest-neighbour search over embeddings, chunked over queries so that memory stays
// bounded (the full N x N score matrix of SOP would be 14.6 GB), with a deterministic tie rule.
//
// Ranking rule (documented contract, tested with hand-built ties): neighbours are ordered by
// score, best first, and items whose computed scores are exactly equal are ordered by ascending
// gallery index. torch.topk promises neither which of several tied items it keeps at the k-th
// place nor their order, so the selection is repaired here: a row whose k-th score also occurs
// outside the returned k (detected by fetching k + 1: the (k+1)-th score equals the k-th) is
// re-selected keeping the lowest-index tied items, and every run of equal
// scores inside the k is re-sorted by index. "Equal" means bit-equal float scores as computed
// (integer-valued embeddings give exact ties; random float data essentially never ties).
import { Tensor, tensor, tidy, noGrad } from '../../engine/index.js';
import { checkEmbeddings } from './common.js';

/**
 * 'cosine': cosine similarity (larger is nearer); 'dot': inner product; 'l2': Euclidean distance
 * (smaller is nearer).
 */
export type Metric = 'cosine' | 'l2' | 'dot';

/** The neighbours of `rows` consecutive queries starting at query `start`, for one metric. */
export interface NeighborChunk {
  metric: Metric;
  start: number;
  rows: number;
  /** Neighbours kept per query (the requested k, capped at the number of candidates). */
  k: number;
  /** rows x k gallery indices, row-major, nearest first. */
  indices: Int32Array;
  /** rows x k scores: cosine similarity, inner product, or Euclidean distance (l2); null when not requested. */
  scores: Float64Array | null;
}

export interface KnnOptions {
  /** Neighbours per query. */
  k: number;
  /** Metrics to rank by; they share one matrix product per chunk. Default ['cosine']. */
  metrics?: readonly Metric[];
  /** Bytes allowed for the per-chunk score blocks (default 256 MiB); sets the chunk size. */
  memoryBudgetBytes?: number;
  /** Fixes the number of queries per chunk instead (tests use it to exercise chunk borders). */
  chunkRows?: number;
  /** Read the scores back (default true). Rank-only callers (Recall@K) skip that copy. */
  scores?: boolean;
  /**
   * Scores as ranked, larger nearer for every metric: cosine = q·g / |g| (not divided by |q|),
   * dot = q·g, l2 = 2 q·g − |g|² (not turned into a distance). What merging several galleries'
   * lists needs: the same pair gets bit-identical scores whichever gallery shard it is scored in.
   */
  rawScores?: boolean;
  /**
   * Leave-one-out against a part of the query set: gallery row j is query row selfOffset + j, and
   * that pair is excluded. (gallery === null is the whole-set case, selfOffset 0.) The excluded
   * pair may then still fill the last place of a row, with score -Infinity, when the gallery has
   * no more than k candidates for it.
   */
  selfOffset?: number;
}

export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;

/** Norms are clamped like F.normalize's eps so that a zero embedding gives score 0, not NaN. */
const NORM_EPS = 1e-12;

/**
 * Queries per chunk so that the chunk's score blocks fit the budget: the [rows, N] product, plus
 * one more [rows, N] block when cosine is ranked together with another metric (cosine divides a
 * copy of the product by the gallery norms; alone it divides in place).
 */
export function chunkRowsForBudget(
  galleryRows: number,
  elementBytes: number,
  metrics: readonly Metric[],
  budgetBytes = DEFAULT_MEMORY_BUDGET_BYTES,
): number {
  const blocks = 1 + (metrics.includes('cosine') && new Set(metrics).size > 1 ? 1 : 0);
  const perRow = Math.max(1, galleryRows) * elementBytes * blocks;
  return Math.max(1, Math.floor(budgetBytes / perRow));
}

/**
 * Streams the exact k nearest neighbours of every query, chunk by chunk, to `visit` (called once
 * per metric per chunk, in query order). With gallery === null the protocol is leave-one-out:
 * the gallery is the query set and each query's own row is excluded (by index, not by value, so
 * a duplicate image still counts as a neighbour). The chunk's arrays are fresh copies that `visit`
 * may keep; it runs under noGrad, inside a tidy scope. Returns the k actually used and the chunk size.
 */
export function forEachNeighborChunk(
  query: Tensor,
  gallery: Tensor | null,
  options: KnnOptions,
  visit: (chunk: NeighborChunk) => void,
): { k: number; chunkRows: number } {
  const { n: nq, d } = checkEmbeddings(query, 'query');
  const g = gallery ?? query;
  const { n: ng, d: dg } = gallery ? checkEmbeddings(gallery, 'gallery') : { n: nq, d };
  if (dg !== d) throw new RangeError(`knn: query dim ${d} != gallery dim ${dg}`);
  if (gallery && gallery.dtype !== query.dtype)
    throw new TypeError(`knn: query is ${query.dtype}, gallery ${gallery.dtype}`);
  if (!Number.isInteger(options.k) || options.k < 1)
    throw new RangeError(`knn: k must be a positive integer, got ${options.k}`);
  const metrics = orderMetrics(options.metrics ?? ['cosine']);
  const loo = gallery === null;
  const selfOffset = loo ? 0 : options.selfOffset;
  if (selfOffset !== undefined && (!Number.isInteger(selfOffset) || selfOffset < 0))
    throw new RangeError(`knn: selfOffset must be a non-negative integer, got ${selfOffset}`);
  const candidates = loo ? ng - 1 : ng;
  if (candidates < 1) throw new RangeError(`knn: no candidates (${ng} gallery items${loo ? ', leave-one-out' : ''})`);
  const k = Math.min(options.k, candidates);
  const eb = query.dtype === 'float64' ? 8 : 4;
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  const chunkRows = Math.min(Math.max(1, nq), options.chunkRows ?? chunkRowsForBudget(ng, eb, metrics, budget));
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new RangeError(`knn: chunkRows must be a positive integer, got ${options.chunkRows}`);
  const fixRows = Math.max(1, Math.floor(budget / (Math.max(1, ng) * (10 + 2 * eb))));

  noGrad(() => {
    const pre = tidy(() => {
      const gt = g.t();
      const gNorm = metrics.includes('cosine') ? g.norm(2, 1).clampMin(NORM_EPS).unsqueeze(0) : null;
      const gSq = metrics.includes('l2')
        ? tensor(squaredNorms(g, budget), { dtype: g.dtype, device: g.device }).unsqueeze(0)
        : null;
      return { gt, gNorm, gSq };
    });
    try {
      const qNorm = metrics.includes('cosine')
        ? tidy(() => Float64Array.from(query.norm(2, 1).data() as Float32Array | Float64Array))
        : null;
      const qSq = metrics.includes('l2')
        ? gallery === null
          ? Float64Array.from(pre.gSq!.data() as Float32Array | Float64Array)
          : squaredNorms(query, budget)
        : null;
      for (let start = 0; start < nq; start += chunkRows) {
        const rows = Math.min(chunkRows, nq - start);
        tidy(() => {
          const dots = query.narrow(0, start, rows).mm(pre.gt);
          for (const metric of metrics) {
            let s: Tensor;
            if (metric === 'cosine') s = metrics.length === 1 ? dots.div_(pre.gNorm!) : dots.div(pre.gNorm!);
            else if (metric === 'dot') s = dots;
            else s = dots.mul_(2).sub_(pre.gSq!); // 2 q.g - |g|^2 = |q|^2 - |q - g|^2: same order as -distance
            if (selfOffset !== undefined) excludeSelf(s, start, rows, selfOffset, ng);
            const { values, indices } = selectTopK(
              s,
              k,
              fixRows,
              (options.scores ?? true) || (options.rawScores ?? false),
            );
            if (s !== dots) s.dispose();
            for (let r = 0; values !== null && !options.rawScores && r < rows; r++) {
              const base = r * k;
              if (metric === 'cosine') {
                const qn = Math.max(qNorm![start + r]!, NORM_EPS);
                for (let j = 0; j < k; j++) values[base + j] = values[base + j]! / qn;
              } else if (metric === 'l2') {
                const q2 = qSq![start + r]!;
                for (let j = 0; j < k; j++) values[base + j] = Math.sqrt(Math.max(q2 - values[base + j]!, 0));
              }
            }
            visit({ metric, start, rows, k, indices, scores: values });
          }
        });
      }
    } finally {
      pre.gt.dispose();
      pre.gNorm?.dispose();
      pre.gSq?.dispose();
    }
  });
  return { k, chunkRows };
}

/** All neighbours at once for one metric: [Nq, k] indices and scores, row-major. */
export function knn(
  query: Tensor,
  gallery: Tensor | null,
  options: KnnOptions & { metric?: Metric },
): { k: number; indices: Int32Array; scores: Float64Array } {
  const metric = options.metric ?? options.metrics?.[0] ?? 'cosine';
  const nq = query.shape[0]!;
  let indices = new Int32Array(0);
  let scores = new Float64Array(0);
  const { k } = forEachNeighborChunk(query, gallery, { ...options, metrics: [metric], scores: true }, (c) => {
    if (indices.length === 0) {
      indices = new Int32Array(nq * c.k);
      scores = new Float64Array(nq * c.k);
    }
    indices.set(c.indices, c.start * c.k);
    scores.set(c.scores!, c.start * c.k);
  });
  return { k, indices, scores };
}

/** Sets the score of (query start + r, gallery j) to -Infinity where start + r == offset + j. */
function excludeSelf(s: Tensor, start: number, rows: number, offset: number, ng: number): void {
  const lo = Math.max(start, offset),
    hi = Math.min(start + rows, offset + ng);
  if (hi > lo)
    s.narrow(0, lo - start, hi - lo)
      .narrow(1, lo - offset, hi - lo)
      .diagonal()
      .fill_(-Infinity);
}

// cosine reads the raw products before 'dot' masks them in place and 'l2' rewrites them in place.
function orderMetrics(ms: readonly Metric[]): Metric[] {
  const valid: Metric[] = ['cosine', 'dot', 'l2'];
  for (const m of ms) if (!valid.includes(m)) throw new RangeError(`knn: unknown metric '${String(m)}'`);
  if (ms.length === 0) throw new RangeError('knn: no metric');
  return valid.filter((m) => ms.includes(m));
}

/**
 * Row sums of squares, in blocks of rows so the squared copy stays within the budget. Summed
 * squares rather than norm()^2: they stay exact for small integers, which exact ties rely on.
 */
function squaredNorms(x: Tensor, budget: number): Float64Array {
  const [n, d] = x.shape as [number, number];
  const out = new Float64Array(n);
  const rows = Math.max(1, Math.floor(budget / (Math.max(1, d) * 8)));
  for (let s = 0; s < n; s += rows) {
    const r = Math.min(rows, n - s);
    tidy(() => out.set(x.narrow(0, s, r).square().sum(1).data() as Float32Array | Float64Array, s));
  }
  return out;
}

/**
 * Top-k of each row of s (larger is better) under the tie rule above, read back to JS (one copy of
 * the [rows, k + 1] scores and indices; ties are found in JS, where a scan costs less than the
 * engine calls it would replace). `fixRows` bounds how many ambiguous rows are repaired at once
 * (their int64 rank block is the largest temporary).
 */
function selectTopK(
  s: Tensor,
  k: number,
  fixRows: number,
  wantScores: boolean,
): { values: Float64Array | null; indices: Int32Array } {
  return tidy(() => {
    const [rows, cols] = s.shape as [number, number];
    // One extra neighbour tells whether the k-th score has a tied copy outside the top k (then
    // which copies topk kept is arbitrary); without one the selected set is already exact.
    const kk = Math.min(k + 1, cols);
    const top = s.topk(kk, 1, true, true);
    const allV = top.values.data() as Float32Array | Float64Array;
    const allI = top.indices.int().data() as Int32Array;
    let indices = allI;
    if (kk > k) {
      indices = new Int32Array(rows * k);
      for (let r = 0; r < rows; r++) indices.set(allI.subarray(r * kk, r * kk + k), r * k);
    }
    let values: Float64Array | null = null;
    if (wantScores) {
      values = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) values.set(allV.subarray(r * kk, r * kk + k), r * k);
    }
    const ambiguous: number[] = [],
      tieRows: number[] = [];
    for (let r = 0; r < rows; r++) {
      const base = r * kk;
      const amb = kk > k && allV[base + k] === allV[base + k - 1];
      if (amb) ambiguous.push(r);
      let tie = amb;
      for (let j = base + 1; !tie && j < base + k; j++) tie = allV[j] === allV[j - 1];
      if (tie) tieRows.push(r);
    }
    if (tieRows.length === 0) return { values, indices };
    // Scores of the tied rows (all rows' when wanted).
    const rowVals = new Map<number, Float64Array>();
    if (values) {
      for (const r of tieRows) rowVals.set(r, values.subarray(r * k, (r + 1) * k));
    } else {
      for (const r of tieRows) rowVals.set(r, Float64Array.from(allV.subarray(r * kk, r * kk + k)));
    }
    for (let a = 0; a < ambiguous.length; a += fixRows) {
      const group = ambiguous.slice(a, a + fixRows);
      tidy(() => {
        const ri = tensor(group, { dtype: 'int64', device: s.device });
        const sub = s.indexSelect(0, ri);
        const t = tensor(
          Float64Array.from(group, (r) => rowVals.get(r)![k - 1]!),
          { dtype: s.dtype, device: s.device },
        ).unsqueeze(1);
        const eq = sub.eq(t);
        // Keep the first (k - #strictly better) tied items in index order; hide the others.
        const need = sub.gt(t).sum(1, true, 'int32').neg().add(k);
        const drop = eq.logicalAnd(eq.cumsum(1).gt(need));
        const fixed = sub.maskedFill(drop, -Infinity).topk(k, 1, true, true);
        const fv = fixed.values.data() as Float32Array | Float64Array;
        const fi = fixed.indices.int().data() as Int32Array;
        group.forEach((row, j) => {
          rowVals.get(row)!.set(fv.subarray(j * k, (j + 1) * k));
          indices.set(fi.subarray(j * k, (j + 1) * k), row * k);
        });
      });
    }
    // Order each run of equal scores by gallery index.
    for (const r of tieRows) {
      const v = rowVals.get(r)!;
      const base = r * k;
      let j = 1;
      while (j < k) {
        if (v[j] !== v[j - 1]) {
          j++;
          continue;
        }
        const runStart = j - 1;
        while (j < k && v[j] === v[runStart]) j++;
        indices.subarray(base + runStart, base + j).sort();
      }
    }
    return { values, indices };
  });
}
