// Retrieval evaluation spread over the processes of a job. Each rank embeds a contiguous shard of
// the test set (of the query set and of the gallery under query-vs-gallery); every rank gets all
// queries, scores them against its own gallery shard, and the per-shard top-k lists are gathered
// and merged under the same tie rule as the single-process search (score, then lowest gallery
// index). The metrics are those of evaluateRetrieval on the whole set, on every rank.
import { type Tensor, cat, tensor, tidy, distributed } from '../../engine/index.js';
import { labelArray, labelCounts } from './common.js';
import {
  chunkRowsForBudget,
  forEachNeighborChunk,
  DEFAULT_MEMORY_BUDGET_BYTES,
  type Metric,
  type NeighborChunk,
} from './knn.js';
import { retrievalFromNeighbors, type NeighborStream } from './retrieval.js';
import { clusteringNmi } from './clustering.js';
import { shardRange } from '../data/range.js';

export { shardRange };
import {
  evaluateRetrieval,
  isKs,
  reportOf,
  type EvaluateOptions,
  type LabeledEmbeddings,
  type RetrievalReport,
} from './index.js';

type ProcessGroup = distributed.ProcessGroup;

/** Every rank's rows, in rank order, concatenated (the shards were contiguous, so this is the whole set). */
function gatherRows(group: ProcessGroup, x: Tensor): Tensor {
  const parts = group.allGatherVariable(x);
  try {
    return cat(parts);
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * Exact neighbours of all queries over a gallery held in shards: this rank's shard is `shard`,
 * whose row j is gallery item offset + j. `selfOffset` (leave-one-out) excludes query i from
 * gallery item i. Collective: every rank must call it with the same query set and options.
 */
export function shardedNeighborStream(
  group: ProcessGroup,
  query: Tensor,
  shard: Tensor,
  offset: number,
  galleryTotal: number,
  loo: boolean,
): NeighborStream {
  return (o, visit) => {
    const nq = query.shape[0]!;
    const metrics = [...o.metrics] as Metric[];
    const candidates = loo ? galleryTotal - 1 : galleryTotal;
    if (candidates < 1)
      throw new RangeError(`knn: no candidates (${galleryTotal} gallery items${loo ? ', leave-one-out' : ''})`);
    const k = Math.min(o.k, candidates);
    // One more than k per shard: the query itself may take a place in its own shard's list.
    const width = k + (loo ? 1 : 0);
    const eb = query.dtype === 'float64' ? 8 : 4;
    // The same chunks on every rank (from the whole gallery's size), so the gathers pair up.
    const chunkRows = Math.min(
      Math.max(1, nq),
      o.chunkRows ?? chunkRowsForBudget(galleryTotal, eb, metrics, o.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES),
    );
    const ns = shard.shape[0]!;
    const merge = (metric: Metric, start: number, rows: number, mine: NeighborChunk | null): void => {
      // [rows, width, 2]: score, global index; -Infinity / -1 where a shard has fewer candidates.
      const packed = new Float64Array(rows * width * 2);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < width; j++) {
          const at = (r * width + j) * 2;
          if (mine && j < mine.k) {
            packed[at] = mine.scores![r * mine.k + j]!;
            packed[at + 1] = offset + mine.indices[r * mine.k + j]!;
          } else {
            packed[at] = -Infinity;
            packed[at + 1] = -1;
          }
        }
      }
      const lists = tidy(() =>
        group
          .allGather(tensor(packed, { shape: [rows, width, 2], device: group.device }))
          .map((t) => t.data() as Float64Array),
      );
      const indices = new Int32Array(rows * k);
      const heads = new Int32Array(lists.length);
      for (let r = 0; r < rows; r++) {
        heads.fill(0);
        const q = start + r;
        for (let j = 0; j < k; j++) {
          let best = -1,
            bestScore = -Infinity,
            bestIndex = Infinity;
          for (let s = 0; s < lists.length; s++) {
            const l = lists[s]!;
            let h = heads[s]!;
            // Skip the query itself (leave-one-out) and padding.
            while (h < width && (l[(r * width + h) * 2 + 1]! < 0 || (loo && l[(r * width + h) * 2 + 1] === q))) h++;
            heads[s] = h;
            if (h >= width) continue;
            const sc = l[(r * width + h) * 2]!,
              ix = l[(r * width + h) * 2 + 1]!;
            if (best < 0 || sc > bestScore || (sc === bestScore && ix < bestIndex)) {
              best = s;
              bestScore = sc;
              bestIndex = ix;
            }
          }
          if (best < 0) throw new Error(`knn: query ${q} has fewer than ${k} candidates over the shards`);
          indices[r * k + j] = bestIndex;
          heads[best]!++;
        }
      }
      visit({ metric, start, rows, k, indices, scores: null });
    };
    if (ns === 0) {
      for (let start = 0; start < nq; start += chunkRows) {
        for (const m of orderedMetrics(metrics)) merge(m, start, Math.min(chunkRows, nq - start), null);
      }
    } else {
      forEachNeighborChunk(
        query,
        shard,
        {
          k: Math.min(width, ns),
          metrics,
          chunkRows,
          memoryBudgetBytes: o.memoryBudgetBytes,
          rawScores: true,
          ...(loo ? { selfOffset: offset } : {}),
        },
        (c) => {
          merge(c.metric, c.start, c.rows, c);
        },
      );
    }
    return { k, chunkRows };
  };
}

// forEachNeighborChunk's visiting order, which a rank with an empty shard must follow too.
function orderedMetrics(ms: readonly Metric[]): Metric[] {
  return (['cosine', 'dot', 'l2'] as Metric[]).filter((m) => ms.includes(m));
}

/**
 * evaluateRetrieval over shards: `query` (and `gallery` under query-vs-gallery) hold this rank's
 * contiguous shard, rank 0's first. Every rank returns the same report, equal to evaluateRetrieval
 * on the whole set (NMI, when computed, is computed by rank 0 and broadcast).
 */
export function evaluateRetrievalSharded(
  group: ProcessGroup,
  query: LabeledEmbeddings,
  gallery: LabeledEmbeddings | null = null,
  options: EvaluateOptions | readonly number[] = {},
): RetrievalReport {
  if (group.worldSize === 1) return evaluateRetrieval(query, gallery, options);
  const t0 = performance.now();
  const o: EvaluateOptions = isKs(options) ? { ks: options } : options;
  if (o.fnmrAtFmr || o.pcf)
    throw new RangeError('evaluateRetrievalSharded: FNMR@FMR and PCF are computed in one process (evaluateRetrieval)');
  const scale = o.percent === false ? 1 : 100;
  const ql = labelArray(query.labels, query.features.shape[0], 'query labels');
  const gShard = gallery ?? query;
  const sizes = group.allReduceNumbers(
    Array.from({ length: group.worldSize }, (_, r) => (r === group.rank ? gShard.features.shape[0]! : 0)),
  );
  const offset = sizes.slice(0, group.rank).reduce((a, b) => a + b, 0);
  const galleryTotal = sizes.reduce((a, b) => a + b, 0);
  const allQuery = gatherRows(group, query.features);
  const allQl = tidy(() => labelArray(gatherRows(group, tensor(ql, { dtype: 'int64', device: group.device }))));
  try {
    const allGl = gallery
      ? tidy(() =>
          labelArray(
            gatherRows(
              group,
              tensor(labelArray(gallery.labels, gallery.features.shape[0], 'gallery labels'), {
                dtype: 'int64',
                device: group.device,
              }),
            ),
          ),
        )
      : allQl;
    const r = retrievalFromNeighbors(
      allQl,
      allGl,
      gallery === null,
      { ...o, metrics: ['cosine', 'l2'], mapMetric: o.mapMetric ?? 'cosine' },
      shardedNeighborStream(group, allQuery, gShard.features, offset, galleryTotal, gallery === null),
    );
    const report = reportOf(r, gallery !== null, galleryTotal, scale);
    const nmiOpt = o.nmi ?? 'auto';
    const labels = gallery ? Int32Array.from([...allQl, ...allGl]) : allQl;
    const nk = labelCounts(labels).size,
      d = query.features.shape[1]!;
    if (nmiOpt !== false && (nmiOpt !== 'auto' || labels.length * nk * d <= 1e10)) {
      const allGallery = gallery ? gatherRows(group, gallery.features) : null;
      try {
        const [nmi, ami] = tidy(() => {
          const c =
            group.rank === 0
              ? clusteringNmi(
                  allGallery ? cat([allQuery, allGallery]) : allQuery,
                  labels,
                  typeof nmiOpt === 'object' ? nmiOpt : {},
                )
              : { nmi: 0, ami: 0 };
          const v = tensor([c.nmi * scale, c.ami * scale], { dtype: 'float64', device: group.device });
          group.broadcast(v, 0);
          return v.dataNumbers();
        });
        report.nmi = nmi!;
        report.ami = ami!;
      } finally {
        allGallery?.dispose();
      }
    }
    report.seconds = (performance.now() - t0) / 1000;
    return report;
  } finally {
    allQuery.dispose();
  }
}
