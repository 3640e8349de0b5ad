// Adjusted mutual information (Vinh, Epps & Bailey, JMLR 2010): mutual information corrected for
// the agreement two random labelings with the same cluster sizes would show, as scikit-learn's
// adjusted_mutual_info_score (average_method='arithmetic', its default) and PML's "AMI".
import { labelArray, labelCounts, type Labels } from './common.js';
import { labelEntropy, mutualInfoScore } from './nmi.js';

/** log(k!) for k = 0..n, by summing logs (exact to ~1e-13 relative, unlike a gamma approximation). */
function logFactorials(n: number): Float64Array {
  const t = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) t[k] = t[k - 1]! + Math.log(k);
  return t;
}

/**
 * E[I(U; V)] over labelings with the row sums a and column sums b of the contingency table, under
 * the hypergeometric model (scikit-learn's expected_mutual_information):
 *   Σ_i Σ_j Σ_{n_ij} n_ij/N · log(N n_ij / (a_i b_j)) · a_i! b_j! (N-a_i)! (N-b_j)! /
 *                     (N! n_ij! (a_i-n_ij)! (b_j-n_ij)! (N-a_i-b_j+n_ij)!)
 * with n_ij from max(1, a_i + b_j - N) to min(a_i, b_j). In nats.
 */
export function expectedMutualInfo(a: readonly number[], b: readonly number[], n: number): number {
  const lf = logFactorials(n);
  let emi = 0;
  for (const ai of a)
    for (const bj of b) {
      const start = Math.max(1, ai - n + bj),
        end = Math.min(ai, bj);
      const fixed = lf[ai]! + lf[bj]! + lf[n - ai]! + lf[n - bj]! - lf[n]!;
      for (let nij = start; nij <= end; nij++) {
        const logTerm = Math.log(n) + Math.log(nij) - Math.log(ai) - Math.log(bj);
        const p = Math.exp(fixed - lf[nij]! - lf[ai - nij]! - lf[bj - nij]! - lf[n - ai - bj + nij]!);
        emi += (nij / n) * logTerm * p;
      }
    }
  return emi;
}

/**
 * AMI(A, B) = (I - E[I]) / ((H(A) + H(B))/2 - E[I]), with scikit-learn's limit cases: both
 * labelings a single cluster (or empty) → 1, and the denominator kept at least machine epsilon in
 * magnitude. 1 for identical labelings, about 0 for independent ones, negative below chance.
 */
export function adjustedMutualInfo(a: Labels, b: Labels): number {
  const x = labelArray(a, undefined, 'a');
  const y = labelArray(b, x.length, 'b');
  const cx = labelCounts(x),
    cy = labelCounts(y);
  if ((cx.size === 1 && cy.size === 1) || (cx.size === 0 && cy.size === 0)) return 1;
  const mi = mutualInfoScore(x, y);
  const emi = expectedMutualInfo([...cx.values()], [...cy.values()], x.length);
  const normalizer = (labelEntropy(x) + labelEntropy(y)) / 2;
  let denominator = normalizer - emi;
  denominator = denominator < 0 ? Math.min(denominator, -Number.EPSILON) : Math.max(denominator, Number.EPSILON);
  return (mi - emi) / denominator;
}
