// A tiny seeded PRNG for the report (subsampling, t-SNE initialisation, example queries): the
// samplers' mulberry32 for uniforms, Box-Muller for normals, so that the report's pictures depend
// on nothing but their seed.
import { mulberry32 } from '../ml/samplers/index.js';

export interface ReportRng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
}

export function reportRng(seed: number): ReportRng {
  const uniform = mulberry32(Math.imul(seed | 0, 0x9e3779b1) ^ 0x85ebca6b);
  let spare: number | null = null;
  return {
    uniform,
    normal(): number {
      if (spare !== null) { const s = spare; spare = null; return s; }
      let u = 0;
      while (u === 0) u = uniform();
      const v = uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int(n: number): number {
      return Math.min(n - 1, Math.floor(uniform() * n));
    },
  };
}

/** k distinct indices of 0..n-1 drawn without replacement (all of them, in order, when k >= n), sorted. */
export function sampleIndices(n: number, k: number, seed: number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rng = reportRng(seed);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t;
  }
  return perm.slice(0, k).sort();
}
