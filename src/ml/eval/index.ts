// Retrieval evaluation of embeddings: the single entry the trainer calls, and its parts.
import { type Tensor, cat } from '../../engine/index.js';
import { labelArray, labelCounts, type Labels } from './common.js';
import { retrievalMetrics, type RetrievalMetrics, type RetrievalOptions } from './retrieval.js';
import { clusteringNmi, type ClusteringNmiOptions } from './clustering.js';
import { fnmrAtFmr, pairDistances, principalComponentsFraction } from './oml.js';

export * from './common.js';
export * from './knn.js';
export * from './retrieval.js';
export * from './kmeans.js';
export * from './nmi.js';
export * from './ami.js';
export * from './clustering.js';
export * from './oml.js';
export * from './sharded.js';

/** Embeddings [N, D] (float32/float64) with their class labels. */
export interface LabeledEmbeddings {
  features: Tensor;
  labels: Labels;
}

export interface EvaluateOptions extends Omit<RetrievalOptions, 'metrics'> {
  /**
   * Clustering NMI (k-means, k = number of classes, on L2-normalised embeddings): true, false,
   * options, or 'auto' (default): computed when N x k x D <= 1e10, i.e. a Lloyd iteration costs at
   * most ~0.1-0.2 s per core (CUB, Cars, Fashion-MNIST yes; SOP, In-Shop no — there k-means would
   * dominate the evaluation time).
   */
  nmi?: boolean | 'auto' | ClusteringNmiOptions;
  /** Report metrics as percentages (default true, as the papers' tables and the CLI print them). */
  percent?: boolean;
  /**
   * OML's FNMR@FMR at these false match rates (fractions), from the Euclidean distances of all
   * query-gallery pairs: O(N²) pairs, so opt-in (see pairDistances' maxPairs).
   */
  fnmrAtFmr?: readonly number[];
  /** OML's principal-components fraction at these explained-variance shares, of the query embeddings. */
  pcf?: readonly number[];
}

/** JSON-able evaluation result (a type alias so it fits index-signature types like the trainer's). */
export type RetrievalReport = {
  /** Recall@K by cosine similarity and by Euclidean distance, keyed by K. */
  recall: { cosine: Record<string, number>; l2: Record<string, number> };
  /** MAP@R, R-Precision, Precision@1 (Musgrave et al.) by cosine similarity; null without positives. */
  mapAtR: number | null;
  rPrecision: number | null;
  precisionAt1: number | null;
  /** Mean reciprocal rank (PML) and OML's precision@K (keyed by K), by the same metric; null/{} without positives. */
  mrr: number | null;
  precisionAtK: Record<string, number>;
  /** Clustering NMI and AMI in the same unit as the other metrics, when computed (see EvaluateOptions.nmi). */
  nmi?: number;
  ami?: number;
  /** OML's FNMR@FMR keyed by FMR, and PCF keyed by explained variance, when asked for. */
  fnmrAtFmr?: Record<string, number>;
  pcf?: Record<string, number>;
  protocol: 'leave-one-out' | 'query-gallery';
  unit: 'percent' | 'fraction';
  queries: number;
  gallery: number;
  queriesWithPositives: number;
  seconds: number;
};

/**
 * Evaluates retrieval. gallery null/undefined: leave-one-out over the query set (CUB, Cars, SOP).
 * Otherwise query-vs-gallery (In-Shop). The third argument is either the Recall@K list (so the
 * function is directly the trainer's EvaluateFn) or the full options. NMI under query-vs-gallery
 * clusters query and gallery together.
 *
 * Exact search: one [chunk, gallery] matrix product per chunk of queries serves both metrics, the
 * chunk sized from memoryBudgetBytes (256 MiB default: 554 SOP queries when both metrics are
 * ranked). Ties: equal scores rank by ascending gallery index (see knn.ts).
 */
export function evaluateRetrieval(
  query: LabeledEmbeddings,
  gallery: LabeledEmbeddings | null = null,
  options: EvaluateOptions | readonly number[] = {},
): RetrievalReport {
  const t0 = performance.now();
  const o: EvaluateOptions = isKs(options) ? { ks: options } : options;
  const scale = o.percent === false ? 1 : 100;
  const r = retrievalMetrics(query.features, query.labels, gallery?.features ?? null, gallery?.labels ?? null, {
    ...o,
    metrics: ['cosine', 'l2'],
    mapMetric: o.mapMetric ?? 'cosine',
  });
  const report = reportOf(r, gallery !== null, gallery ? gallery.features.shape[0]! : r.queries, scale);
  const nmiOpt = o.nmi ?? 'auto';
  if (nmiOpt !== false) {
    const ql = labelArray(query.labels);
    const labels = gallery ? Int32Array.from([...ql, ...labelArray(gallery.labels)]) : ql;
    const n = labels.length,
      k = labelCounts(labels).size,
      d = query.features.shape[1]!;
    if (nmiOpt !== 'auto' || n * k * d <= 1e10) {
      const x = gallery ? cat([query.features, gallery.features]) : query.features;
      try {
        const c = clusteringNmi(x, labels, typeof nmiOpt === 'object' ? nmiOpt : {});
        report.nmi = c.nmi * scale;
        report.ami = c.ami * scale;
      } finally {
        if (x !== query.features) x.dispose();
      }
    }
  }
  if (o.fnmrAtFmr) {
    const { pos, neg } = pairDistances(
      query.features,
      query.labels,
      gallery?.features ?? null,
      gallery?.labels ?? null,
    );
    const v = fnmrAtFmr(pos, neg, o.fnmrAtFmr);
    report.fnmrAtFmr = Object.fromEntries(o.fnmrAtFmr.map((f, i) => [String(f), v[i]! * scale]));
  }
  if (o.pcf) {
    const v = principalComponentsFraction(query.features, o.pcf);
    report.pcf = Object.fromEntries(o.pcf.map((r, i) => [String(r), v[i]! * scale]));
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/** The report of retrieval metrics, scaled (100: percent), before NMI and timing are added. */
export function reportOf(
  r: RetrievalMetrics,
  queryGallery: boolean,
  gallerySize: number,
  scale: number,
): RetrievalReport {
  const scaled = (rec: Record<string, number> | undefined): Record<string, number> =>
    Object.fromEntries(Object.entries(rec ?? {}).map(([k, v]) => [k, v * scale]));
  const s = (v: number | null): number | null => (v === null ? null : v * scale);
  return {
    recall: { cosine: scaled(r.recall.cosine), l2: scaled(r.recall.l2) },
    mapAtR: s(r.mapAtR),
    rPrecision: s(r.rPrecision),
    precisionAt1: s(r.precisionAt1),
    mrr: s(r.mrr),
    precisionAtK: scaled(r.precisionAtK),
    protocol: queryGallery ? 'query-gallery' : 'leave-one-out',
    unit: scale === 1 ? 'fraction' : 'percent',
    queries: r.queries,
    gallery: gallerySize,
    queriesWithPositives: r.queriesWithPositives,
    seconds: 0,
  };
}

export function isKs(o: EvaluateOptions | readonly number[]): o is readonly number[] {
  return Array.isArray(o);
}
