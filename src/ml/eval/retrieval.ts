// Retrieval metrics from the exact kNN stream: Recall@K (Oh Song et al.; the metric of the
// CUB/Cars/SOP/In-Shop tables), MAP@R, R-Precision, Precision@1 (Musgrave, Belongie, Lim,
// "A metric learning reality check", ECCV 2020), mean reciprocal rank (PML's AccuracyCalculator)
// and Open Metric Learning's precision@K.
import type { Tensor } from '../../engine/index.js';
import { forEachNeighborChunk, type Metric, type NeighborChunk } from './knn.js';
import { labelArray, labelCounts, type Labels } from './common.js';

export type RetrievalMetric = Extract<Metric, 'cosine' | 'l2'>;

export interface RetrievalOptions {
  /** The K of Recall@K (default [1, 2, 4, 8]); a K beyond the candidates counts all of them. */
  ks?: readonly number[];
  /** Metrics for Recall@K (default both). */
  metrics?: readonly RetrievalMetric[];
  /** Compute MAP@R, R-Precision and Precision@1 (default true); needs the top-R neighbours. */
  mapAtR?: boolean;
  /** Metric those three (and MRR, precision@K) are ranked by (default 'cosine'). */
  mapMetric?: RetrievalMetric;
  /**
   * How deep MRR looks for a query's first positive (default: the neighbours retrieved anyway,
   * max(K, R_max)); a query whose first positive ranks deeper adds 0. Infinity ranks the whole
   * gallery, as PML's AccuracyCalculator does with its default k = None.
   */
  mrrDepth?: number;
  /** Bytes for the per-chunk score blocks (default 256 MiB). */
  memoryBudgetBytes?: number;
  /** Fixed queries per chunk (overrides the budget; for tests). */
  chunkRows?: number;
}

/** Fractions in [0, 1]. */
export interface RetrievalMetrics {
  /** Recall@K per metric, keyed by K. Over all queries: a query without positives is a miss. */
  recall: Partial<Record<RetrievalMetric, Record<string, number>>>;
  /**
   * Mean over queries with R >= 1 of (1/R) sum_{i<=R} P(i) [i-th neighbour relevant], where R is the
   * number of same-class gallery items (minus the query itself under leave-one-out). Null when
   * not computed or when no query has a positive.
   */
  mapAtR: number | null;
  /** Mean over queries with R >= 1 of (#relevant in the top R) / R. */
  rPrecision: number | null;
  /**
   * Mean over queries with R >= 1 of [nearest neighbour relevant] (equals Recall@1 when every query has a positive).
   */
  precisionAt1: number | null;
  /**
   * Mean reciprocal rank: mean over queries with R >= 1 of 1 / (rank of the first relevant
   * neighbour), 0 when it is not within mrrDepth (PML's mean_reciprocal_rank).
   */
  mrr: number | null;
  /**
   * Open Metric Learning's precision@K, keyed by K: mean over queries with R >= 1 of
   * (#relevant in the top K) / min(K, R), K capped at the candidates (OML's calc_precision, which
   * does not penalise K > R). Empty when MAP@R is not computed.
   */
  precisionAtK: Record<string, number>;
  /** Queries evaluated. */
  queries: number;
  /** Queries with at least one same-class gallery item (the denominator of the three above). */
  queriesWithPositives: number;
  /** Neighbours retrieved per query (max K and max R, capped at the candidates). */
  k: number;
  /** Queries per chunk. */
  chunkRows: number;
}

/**
 * Recall@K and MAP@R / R-Precision / Precision@1 in one chunked pass (one matrix product per
 * chunk serves both metrics). gallery === null selects leave-one-out (CUB, Cars, SOP): every query
 * retrieves from all other queries. Otherwise query-vs-gallery (In-Shop): nothing is excluded.
 */
export function retrievalMetrics(
  query: Tensor,
  queryLabels: Labels,
  gallery: Tensor | null = null,
  galleryLabels: Labels | null = null,
  options: RetrievalOptions = {},
): RetrievalMetrics {
  const nq = query.shape[0] ?? 0;
  const ql = labelArray(queryLabels, nq, 'queryLabels');
  const loo = gallery === null;
  if (!loo && galleryLabels === null) throw new RangeError('retrievalMetrics: gallery given without galleryLabels');
  const gl = loo ? ql : labelArray(galleryLabels!, gallery.shape[0], 'galleryLabels');
  return retrievalFromNeighbors(ql, gl, loo, options, (o, visit) =>
    forEachNeighborChunk(query, gallery, { ...o, scores: false }, visit),
  );
}

/** Streams the k nearest neighbours of every query, in query order, as forEachNeighborChunk does. */
export type NeighborStream = (
  o: { k: number; metrics: readonly Metric[]; memoryBudgetBytes?: number; chunkRows?: number },
  visit: (chunk: NeighborChunk) => void,
) => { k: number; chunkRows: number };

/**
 * The metrics of retrievalMetrics from any neighbour stream (one process's exact search, or the
 * merged lists of several processes' gallery shards): labels of all queries and all gallery items.
 */
export function retrievalFromNeighbors(
  ql: Int32Array,
  gl: Int32Array,
  loo: boolean,
  options: RetrievalOptions,
  stream: NeighborStream,
): RetrievalMetrics {
  const ks = [...(options.ks ?? [1, 2, 4, 8])];
  if (ks.length === 0) throw new RangeError('retrievalMetrics: ks is empty');
  for (const k of ks)
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`retrievalMetrics: K must be a positive integer, got ${k}`);
  const metrics: RetrievalMetric[] = [...new Set<RetrievalMetric>(options.metrics ?? ['cosine', 'l2'])];
  const doMap = options.mapAtR ?? true;
  const mapMetric = options.mapMetric ?? 'cosine';
  const nq = ql.length;
  const counts = labelCounts(gl);
  const positives = new Int32Array(nq);
  let maxR = 0;
  for (let i = 0; i < nq; i++) {
    positives[i] = (counts.get(ql[i]!) ?? 0) - (loo ? 1 : 0);
    if (positives[i]! > maxR) maxR = positives[i]!;
  }
  const mrrDepth = options.mrrDepth;
  if (mrrDepth !== undefined && !(mrrDepth >= 1))
    throw new RangeError(`retrievalMetrics: mrrDepth must be at least 1, got ${mrrDepth}`);
  const candidates = Math.max(1, gl.length - (loo ? 1 : 0));
  const needed = Math.max(
    ...ks,
    doMap ? maxR : 1,
    doMap && mrrDepth !== undefined ? Math.min(mrrDepth, candidates) : 1,
  );
  const depth = mrrDepth ?? needed;
  const rankBy: Metric[] = doMap && !metrics.includes(mapMetric) ? [...metrics, mapMetric] : metrics;

  const firstHit = new Map<Metric, Int32Array>(rankBy.map((m) => [m, new Int32Array(nq).fill(-1)]));
  let apSum = 0,
    rpSum = 0,
    p1Sum = 0,
    rrSum = 0,
    withPos = 0;
  const pkSums = new Float64Array(ks.length);
  const { k, chunkRows } = stream(
    {
      k: needed,
      metrics: rankBy,
      memoryBudgetBytes: options.memoryBudgetBytes,
      chunkRows: options.chunkRows,
    },
    (c) => {
      const fh = firstHit.get(c.metric)!;
      for (let r = 0; r < c.rows; r++) {
        const qi = c.start + r;
        const label = ql[qi]!;
        const base = r * c.k;
        for (let j = 0; j < c.k; j++) {
          if (gl[c.indices[base + j]!] === label) {
            fh[qi] = j;
            break;
          }
        }
        if (doMap && c.metric === mapMetric && positives[qi]! > 0) {
          const R = positives[qi]!; // <= candidates, and c.k >= min(maxR, candidates), so R <= c.k
          let hits = 0,
            ap = 0;
          for (let j = 0; j < R; j++) {
            if (gl[c.indices[base + j]!] === label) {
              hits++;
              ap += hits / (j + 1);
            }
          }
          apSum += ap / R;
          rpSum += hits / R;
          p1Sum += gl[c.indices[base]!] === label ? 1 : 0;
          const first = fh[qi]!;
          if (first >= 0 && first < depth) rrSum += 1 / (first + 1);
          ks.forEach((K, q) => {
            const top = Math.min(K, c.k);
            let h = 0;
            for (let j = 0; j < top; j++) if (gl[c.indices[base + j]!] === label) h++;
            pkSums[q]! += h / Math.min(top, R);
          });
          withPos++;
        }
      }
    },
  );

  const recall: Partial<Record<RetrievalMetric, Record<string, number>>> = {};
  for (const m of metrics) {
    const fh = firstHit.get(m)!;
    const byK: Record<string, number> = {};
    for (const K of ks) {
      let hits = 0;
      for (let i = 0; i < nq; i++) if (fh[i]! >= 0 && fh[i]! < K) hits++;
      byK[String(K)] = nq > 0 ? hits / nq : 0;
    }
    recall[m] = byK;
  }
  if (!doMap) withPos = positives.reduce((a, p) => a + (p > 0 ? 1 : 0), 0);
  const mean = (s: number): number | null => (doMap && withPos > 0 ? s / withPos : null);
  return {
    recall,
    mapAtR: mean(apSum),
    rPrecision: mean(rpSum),
    precisionAt1: mean(p1Sum),
    mrr: mean(rrSum),
    precisionAtK: doMap && withPos > 0 ? Object.fromEntries(ks.map((K, q) => [String(K), pkSums[q]! / withPos])) : {},
    queries: nq,
    queriesWithPositives: withPos,
    k,
    chunkRows,
  };
}

/** Recall@K for one metric: the fraction of queries with a same-class item among their K nearest. */
export function recallAtK(
  query: Tensor,
  queryLabels: Labels,
  ks: readonly number[],
  o: {
    metric?: RetrievalMetric;
    gallery?: Tensor | null;
    galleryLabels?: Labels | null;
    memoryBudgetBytes?: number;
    chunkRows?: number;
  } = {},
): Record<string, number> {
  const metric = o.metric ?? 'cosine';
  const r = retrievalMetrics(query, queryLabels, o.gallery ?? null, o.galleryLabels ?? null, {
    ks,
    metrics: [metric],
    mapAtR: false,
    memoryBudgetBytes: o.memoryBudgetBytes,
    chunkRows: o.chunkRows,
  });
  return r.recall[metric]!;
}
