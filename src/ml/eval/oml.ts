// Open Metric Learning's verification and embedding-space metrics (OML-Team/open-metric-learning,
// oml/functional/metrics.py): FNMR@FMR from the distances of all relevant and irrelevant
// query-gallery pairs, and the principal-components fraction (PCF) of an embedding set.
import { type Tensor, cdist, noGrad, tidy, linalg } from '../../engine/index.js';
import { checkEmbeddings, labelArray, type Labels } from './common.js';

/** numpy.percentile's default ('linear') estimate: q in [0, 100] of ascending `sorted`. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentile: no values');
  const pos = ((n - 1) * q) / 100;
  const lo = Math.floor(pos),
    hi = Math.min(lo + 1, n - 1);
  const t = pos - lo;
  return sorted[lo]! + t * (sorted[hi]! - sorted[lo]!);
}

/**
 * False non-match rate at given false match rates (OML's calc_fnmr_at_fmr): for each FMR f in
 * [0, 1], the threshold T_f is the 100f-th percentile of the irrelevant pairs' distances (so a
 * share f of them is closer than T_f, i.e. falsely matched), and FNMR(T_f) is the share of relevant
 * pairs at distance ≥ T_f. Fractions in [0, 1].
 */
export function fnmrAtFmr(pos: ArrayLike<number>, neg: ArrayLike<number>, fmrs: readonly number[]): number[] {
  if (fmrs.length === 0) throw new RangeError('fnmrAtFmr: give at least one FMR');
  for (const f of fmrs) if (!(f >= 0 && f <= 1)) throw new RangeError(`fnmrAtFmr: an FMR must be in [0, 1], got ${f}`);
  if (pos.length === 0) throw new RangeError('fnmrAtFmr: no relevant pairs');
  const sorted = Float64Array.from(neg).sort();
  return fmrs.map((f) => {
    const t = percentile(sorted, f * 100);
    let above = 0;
    for (let i = 0; i < pos.length; i++) if (pos[i]! >= t) above++;
    return above / pos.length;
  });
}

export interface PairDistancesOptions {
  /** Refuse more irrelevant pairs than this (default 2e7, 160 MB of float64), instead of running out of memory. */
  maxPairs?: number;
  /** Queries per distance block (default 1024). */
  chunkRows?: number;
}

/**
 * Euclidean distances of every relevant (same-label) and irrelevant query-gallery pair, as OML's
 * extract_pos_neg_dists on its distance matrix; gallery null is leave-one-out (a query's own row
 * is neither). In float64.
 */
export function pairDistances(
  query: Tensor,
  queryLabels: Labels,
  gallery: Tensor | null = null,
  galleryLabels: Labels | null = null,
  o: PairDistancesOptions = {},
): { pos: Float64Array; neg: Float64Array } {
  const { n: nq } = checkEmbeddings(query, 'query');
  const ql = labelArray(queryLabels, nq, 'queryLabels');
  const g = gallery ?? query;
  const gl = gallery === null ? ql : labelArray(galleryLabels ?? [], g.shape[0], 'galleryLabels');
  if (gallery !== null) checkEmbeddings(gallery, 'gallery');
  const ng = g.shape[0]!;
  let posCount = 0;
  const byLabel = new Map<number, number>();
  for (const y of gl) byLabel.set(y, (byLabel.get(y) ?? 0) + 1);
  for (const y of ql) posCount += (byLabel.get(y) ?? 0) - (gallery === null ? 1 : 0);
  const negCount = nq * ng - posCount - (gallery === null ? nq : 0);
  const max = o.maxPairs ?? 2e7;
  if (negCount > max)
    throw new RangeError(
      `pairDistances: ${negCount} irrelevant pairs exceed maxPairs (${max}); evaluate a subset of queries`,
    );
  const pos = new Float64Array(posCount),
    neg = new Float64Array(negCount);
  let p = 0,
    q = 0;
  const rows = o.chunkRows ?? 1024;
  noGrad(() => {
    for (let start = 0; start < nq; start += rows) {
      const r = Math.min(rows, nq - start);
      const d = tidy(() => cdist(query.narrow(0, start, r).to('float64'), g.to('float64')).dataNumbers());
      for (let i = 0; i < r; i++)
        for (let j = 0; j < ng; j++) {
          if (gallery === null && j === start + i) continue;
          if (gl[j] === ql[start + i]) pos[p++] = d[i * ng + j]!;
          else neg[q++] = d[i * ng + j]!;
        }
    }
  });
  return { pos, neg };
}

/**
 * The principal-components fraction (OML's calc_pcf): with λ_1 ≥ … the eigenvalues of the
 * embeddings' covariance (squared singular values of the centred matrix over n - 1), n_r is one
 * more than the number of cumulative explained-variance ratios ≤ r, and PCF(r) = n_r / d: the
 * share of dimensions needed to explain a fraction r of the variance. Low values mean the
 * embeddings use few directions. In float64.
 */
export function principalComponentsFraction(x: Tensor, variances: readonly number[]): number[] {
  const { n, d } = checkEmbeddings(x);
  if (variances.length === 0) throw new RangeError('principalComponentsFraction: give at least one variance');
  for (const r of variances)
    if (!(r >= 0 && r <= 1))
      throw new RangeError(`principalComponentsFraction: a variance must be in [0, 1], got ${r}`);
  if (n < 2) throw new RangeError('principalComponentsFraction: needs at least two embeddings');
  const s = noGrad(() =>
    tidy(() => {
      const x64 = x.to('float64');
      return linalg.svdvals(x64.sub(x64.mean(0, true))).dataNumbers();
    }),
  );
  const ev = s.map((v) => (v * v) / (n - 1));
  const total = ev.reduce((a, b) => a + b, 0);
  const cum: number[] = [];
  let acc = 0;
  for (const v of ev) cum.push((acc += v / total));
  return variances.map((r) => (cum.filter((c) => c <= r).length + 1) / d);
}
