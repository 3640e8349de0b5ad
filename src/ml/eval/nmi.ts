// Normalized mutual information between two labelings (entropy and mutual information in nats).
import { labelArray, labelCounts, type Labels } from './common.js';

/** Plug-in Shannon entropy of a labeling, in nats. */
export function labelEntropy(labels: Labels): number {
  const l = labelArray(labels);
  const n = l.length;
  let h = 0;
  for (const c of labelCounts(l).values()) h -= (c / n) * Math.log(c / n);
  return Math.max(h, 0);
}

/** Mutual information of two labelings from their contingency table, in nats (sklearn's mutual_info_score). */
export function mutualInfoScore(a: Labels, b: Labels): number {
  const x = labelArray(a, undefined, 'a');
  const y = labelArray(b, x.length, 'b');
  const n = x.length;
  if (n === 0) return 0;
  const joint = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = `${x[i]},${y[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
  }
  const cx = labelCounts(x),
    cy = labelCounts(y);
  let mi = 0;
  for (const [key, nij] of joint) {
    const comma = key.indexOf(',');
    const ni = cx.get(Number(key.slice(0, comma)))!,
      nj = cy.get(Number(key.slice(comma + 1)))!;
    mi += (nij / n) * (Math.log(nij) + Math.log(n) - Math.log(ni) - Math.log(nj));
  }
  return Math.max(mi, 0);
}

/**
 * NMI with arithmetic-mean normalisation, I(A;B) / ((H(A) + H(B)) / 2): scikit-learn's default
 * normalized_mutual_info_score, including its limit cases (both labelings a single cluster → 1;
 * I = 0 otherwise → 0).
 */
export function normalizedMutualInfo(a: Labels, b: Labels): number {
  const x = labelArray(a, undefined, 'a');
  const y = labelArray(b, x.length, 'b');
  const kx = labelCounts(x).size,
    ky = labelCounts(y).size;
  if ((kx === 1 && ky === 1) || (kx === 0 && ky === 0)) return 1;
  const mi = mutualInfoScore(x, y);
  if (mi === 0) return 0;
  const norm = Math.max((labelEntropy(x) + labelEntropy(y)) / 2, Number.EPSILON);
  return Math.min(mi / norm, 1);
}
