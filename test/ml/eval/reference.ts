// Plain brute-force references for the evaluation tests: double loops in float64 JS, no engine.
export type RefMetric = 'cosine' | 'l2' | 'dot';

export { prng } from '../../prng.js';

/** Standard normal draw (Box-Muller). */
export function gauss(r: () => number): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export function rows(flat: ArrayLike<number>, n: number, d: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => flat[i * d + j]!));
}

/** Larger is nearer: cosine (divided by the gallery norm only: same order per query), dot, -squared distance. */
export function score(q: number[], g: number[], metric: RefMetric): number {
  let dot = 0,
    gg = 0,
    dd = 0;
  for (let j = 0; j < q.length; j++) {
    dot += q[j]! * g[j]!;
    gg += g[j]! * g[j]!;
    dd += (q[j]! - g[j]!) ** 2;
  }
  if (metric === 'cosine') return dot / Math.max(Math.sqrt(gg), 1e-12);
  if (metric === 'dot') return dot;
  return -dd;
}

/** Full ranking of every query: score descending, ties by lower gallery index; self removed under leave-one-out. */
export function bruteRanking(q: number[][], g: number[][] | null, metric: RefMetric): number[][] {
  const gal = g ?? q;
  return q.map((qi, i) => {
    const cand: { j: number; s: number }[] = [];
    for (let j = 0; j < gal.length; j++) if (g !== null || j !== i) cand.push({ j, s: score(qi, gal[j]!, metric) });
    cand.sort((a, b) => b.s - a.s || a.j - b.j);
    return cand.map((c) => c.j);
  });
}

export interface RefMetrics {
  recall: Record<string, number>;
  mapAtR: number | null;
  rPrecision: number | null;
  precisionAt1: number | null;
  queriesWithPositives: number;
}

/** Recall@K over all queries; MAP@R, R-Precision, P@1 over queries with R >= 1 (Musgrave et al.). */
export function bruteMetrics(
  ranking: number[][],
  ql: ArrayLike<number>,
  gl: ArrayLike<number>,
  ks: readonly number[],
  loo: boolean,
): RefMetrics {
  const n = ranking.length;
  const recall: Record<string, number> = {};
  for (const k of ks) {
    let hits = 0;
    for (let i = 0; i < n; i++) if (ranking[i]!.slice(0, k).some((j) => gl[j] === ql[i])) hits++;
    recall[String(k)] = hits / n;
  }
  let ap = 0,
    rp = 0,
    p1 = 0,
    m = 0;
  for (let i = 0; i < n; i++) {
    let R = 0;
    for (let j = 0; j < gl.length; j++) if (gl[j] === ql[i]) R++;
    if (loo) R--;
    if (R <= 0) continue;
    m++;
    let hits = 0,
      a = 0;
    for (let j = 0; j < R; j++)
      if (gl[ranking[i]![j]!] === ql[i]) {
        hits++;
        a += hits / (j + 1);
      }
    ap += a / R;
    rp += hits / R;
    p1 += gl[ranking[i]![0]!] === ql[i] ? 1 : 0;
  }
  const mean = (s: number): number | null => (m > 0 ? s / m : null);
  return { recall, mapAtR: mean(ap), rPrecision: mean(rp), precisionAt1: mean(p1), queriesWithPositives: m };
}

// Integer vectors with integer norms: cosine similarities between integer vectors are exact
// rationals, so mathematically equal ones are bit-equal in float32 and float64 alike.
const PYTHAGOREAN = [
  [1, 2, 2],
  [2, 3, 6],
  [1, 4, 8],
  [4, 4, 7],
  [2, 6, 9],
  [0, 3, 4],
  [0, 0, 1],
  [6, 6, 7],
  [3, 4, 12],
  [2, 2, 1],
];

/** n random 3-D integer-norm vectors drawn from a small pool (many exact cosine ties), as a flat array. */
export function integerNormData(n: number, r: () => number, poolSize = 12): Float32Array {
  const pool: number[][] = [];
  for (let p = 0; p < poolSize; p++) {
    const v = PYTHAGOREAN[Math.floor(r() * PYTHAGOREAN.length)]!;
    const perm = [0, 1, 2].sort(() => r() - 0.5);
    pool.push(perm.map((k) => v[k]! * (r() < 0.5 ? -1 : 1)));
  }
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = pool[Math.floor(r() * poolSize)]!;
    const s = 1 + Math.floor(r() * 2);
    for (let j = 0; j < 3; j++) out[i * 3 + j] = v[j]! * s;
  }
  return out;
}

/** Values on a 1/4 grid in [-2, 2]: products and sums stay exact in float32 (l2 and dot ties are exact). */
export function quantizedData(n: number, d: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n * d }, () => (Math.floor(r() * 17) - 8) / 4);
}

export function randomLabels(n: number, classes: number, r: () => number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(r() * classes));
}
