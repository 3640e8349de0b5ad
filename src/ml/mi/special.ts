// Special functions and closed forms the entropy estimators need, in plain JS double precision
// (scalars: calling the engine for one number would cost more than computing it).

/** Digamma psi(x) for x > 0: recurrence up to x >= 10, then the asymptotic series (truncation error < 1e-13). */
export function digamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`digamma: x must be > 0, got ${x}`);
  let r = 0;
  while (x < 10) {
    r -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return r + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132)))));
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Gamma(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function lgamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lgamma: x must be > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1;
  let a = LANCZOS[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log of the volume of the Euclidean unit ball in d dimensions: (d/2) log pi - log Gamma(d/2 + 1). */
export function logUnitBallVolume(d: number): number {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`logUnitBallVolume: d must be a positive integer, got ${d}`);
  return (d / 2) * Math.log(Math.PI) - lgamma(d / 2 + 1);
}

/** Differential entropy (nats) of N(mu, Sigma) in d dims from log det Sigma: (d log(2 pi e) + log det) / 2. */
export function gaussianEntropy(d: number, logDetCov: number): number {
  return 0.5 * (d * Math.log(2 * Math.PI * Math.E) + logDetCov);
}

export const NATS_PER_BIT = Math.LN2;
/** A quantity in both units. */
export interface Quantity {
  nats: number;
  bits: number;
}
export const quantity = (nats: number): Quantity => ({ nats, bits: nats / Math.LN2 });
