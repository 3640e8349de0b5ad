// Text rendering of retrieval results, shared by every command and report that prints Recall@K.

/** The part of an evaluation that the table shows: Recall@K (%) by K, for both distances. */
export interface RecallByMetric {
  recall: { cosine: Record<string, number>; l2: Record<string, number> };
}

/** Recall@K as a right-aligned plain-text table: a header row of K, then one row per distance. */
export function formatRecallTable(m: RecallByMetric): string {
  const ks = Object.keys(m.recall.cosine);
  const head = ['metric', ...ks.map((k) => `R@${k}`)];
  const rows = [
    head,
    ['cosine', ...ks.map((k) => m.recall.cosine[k]!.toFixed(2))],
    ['euclidean', ...ks.map((k) => (m.recall.l2[k] ?? NaN).toFixed(2))],
  ];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padStart(widths[i]!)).join('  ')).join('\n');
}
