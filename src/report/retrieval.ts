// Retrieval examples for the report: a few queries with their top-k neighbours by cosine
// similarity, some drawn at random (typical behaviour) and some among the top-1 misses (failure
// modes). Leave-one-out when there is no gallery, as the evaluation protocol.
import type { Tensor } from '../engine/index.js';
import { knn } from '../ml/eval/index.js';
import { REPORT_STREAM, reportRng } from './random.js';

export interface Neighbour {
  index: number;
  label: number;
  /** Cosine similarity to the query. */
  score: number;
  correct: boolean;
}

export interface RetrievalExample {
  /** 'random': drawn uniformly; 'miss': drawn among the queries whose nearest neighbour has another class. */
  kind: 'random' | 'miss';
  query: number;
  label: number;
  neighbours: Neighbour[];
}

export interface RetrievalExampleOptions {
  /** Queries shown (default 8). */
  count?: number;
  /** Of which drawn among the top-1 misses, when there are any (default 2). */
  misses?: number;
  /** Neighbours per query (default 8). */
  k?: number;
  seed?: number;
}

export interface RetrievalExamples {
  k: number;
  examples: RetrievalExample[];
  /** Fraction of all queries whose nearest neighbour has their class (P@1 by cosine). */
  top1: number;
  misses: number;
}

/** Picks example queries and their neighbours (gallery null: leave-one-out over the queries). */
export function retrievalExamples(
  query: Tensor,
  queryLabels: Int32Array,
  gallery: Tensor | null,
  galleryLabels: Int32Array | null,
  o: RetrievalExampleOptions = {},
): RetrievalExamples {
  const nq = query.shape[0]!;
  if (queryLabels.length !== nq)
    throw new RangeError(`retrievalExamples: ${queryLabels.length} labels for ${nq} queries`);
  const gl = gallery ? galleryLabels : queryLabels;
  if (!gl) throw new RangeError('retrievalExamples: gallery labels missing');
  const candidates = gallery ? gallery.shape[0]! : nq - 1;
  const k = Math.max(1, Math.min(o.k ?? 8, candidates));
  const r = knn(query, gallery, { k, metric: 'cosine' });
  const kk = r.k;
  const misses: number[] = [],
    hits: number[] = [];
  for (let i = 0; i < nq; i++) (gl[r.indices[i * kk]!] === queryLabels[i] ? hits : misses).push(i);
  const rng = reportRng(o.seed ?? 0, REPORT_STREAM.examples);
  const count = Math.min(o.count ?? 8, nq);
  const nMiss = Math.min(o.misses ?? 2, misses.length, count);
  const pick = (pool: number[], m: number, taken: Set<number>): number[] => {
    const avail = pool.filter((i) => !taken.has(i));
    const out: number[] = [];
    for (let t = 0; t < m && avail.length > 0; t++) {
      const j = rng.int(0, avail.length);
      out.push(avail[j]!);
      avail[j] = avail[avail.length - 1]!;
      avail.pop();
    }
    return out;
  };
  const taken = new Set<number>();
  const all = Array.from({ length: nq }, (_, i) => i);
  const randomPicks = pick(all, count - nMiss, taken);
  randomPicks.forEach((i) => taken.add(i));
  const missPicks = pick(misses, nMiss, taken);
  const make = (i: number, kind: 'random' | 'miss'): RetrievalExample => ({
    kind,
    query: i,
    label: queryLabels[i]!,
    neighbours: Array.from({ length: kk }, (_, j) => {
      const g = r.indices[i * kk + j]!;
      return { index: g, label: gl[g]!, score: r.scores[i * kk + j]!, correct: gl[g] === queryLabels[i] };
    }),
  });
  return {
    k: kk,
    examples: [...randomPicks.map((i) => make(i, 'random')), ...missPicks.map((i) => make(i, 'miss'))],
    top1: hits.length / Math.max(1, nq),
    misses: misses.length,
  };
}
