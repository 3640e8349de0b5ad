import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../../src/engine/index.js';
import {
  digamma,
  lgamma,
  logUnitBallVolume,
  gaussianEntropy,
  quantity,
  symmetricEigen,
  topEigen,
} from '../../../src/ml/mi/index.js';
import { prng, gauss } from '../eval/reference.js';

const EULER = 0.5772156649015329;
const near = (a: number, b: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);

test('digamma and lgamma against known values', () => {
  near(digamma(1), -EULER, 1e-13);
  near(digamma(0.5), -EULER - 2 * Math.LN2, 1e-13);
  near(digamma(3), 1.5 - EULER, 1e-13);
  near(digamma(5000), Math.log(5000) - 1 / 10000 - 1 / (12 * 5000 ** 2), 1e-13);
  near(digamma(10.5) - digamma(9.5), 1 / 9.5, 1e-13, 'recurrence');
  near(lgamma(0.5), 0.5 * Math.log(Math.PI), 1e-13);
  near(lgamma(10), Math.log(362880), 1e-12);
  near(lgamma(1), 0, 1e-14);
  near(lgamma(101), 363.73937555556347, 1e-10);
  assert.throws(() => digamma(0), RangeError);
});

test('unit-ball volumes and the Gaussian entropy closed form', () => {
  near(logUnitBallVolume(1), Math.log(2), 1e-14);
  near(logUnitBallVolume(2), Math.log(Math.PI), 1e-14);
  near(logUnitBallVolume(3), Math.log((4 / 3) * Math.PI), 1e-14);
  near(logUnitBallVolume(4), Math.log(Math.PI ** 2 / 2), 1e-14);
  near(gaussianEntropy(1, 0), 0.5 * Math.log(2 * Math.PI * Math.E), 1e-15);
  near(gaussianEntropy(2, Math.log(4)), Math.log(2 * Math.PI * Math.E * 2), 1e-14);
  near(quantity(Math.LN2).bits, 1, 1e-15);
});

test('symmetric eigen-decomposition (engine eigh): A V = V diag(values), V orthonormal, values descending', () => {
  const r = prng(4);
  const n = 7;
  const b = Array.from({ length: n * n }, () => gauss(r));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let t = 0; t < n; t++) a[i * n + j]! += b[i * n + t]! * b[j * n + t]!;
  const { values, vectors } = symmetricEigen(a, n);
  for (let i = 1; i < n; i++) assert.ok(values[i - 1]! >= values[i]!);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[j * n + c]!;
      near(av, values[c]! * vectors[i * n + c]!, 1e-9);
    }
    for (let c2 = 0; c2 < n; c2++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + c]! * vectors[i * n + c2]!;
      near(dot, c === c2 ? 1 : 0, 1e-12);
    }
  }
});

test('topEigen by subspace iteration (D > 256) finds the leading eigenpairs', () => {
  // A diagonal 300 x 300 matrix with shuffled eigenvalues 0.9^i: its eigenvectors are axes.
  const n = 300,
    r = prng(6);
  const perm = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
  const diag = new Float64Array(n * n);
  perm.forEach((p, i) => {
    diag[i * n + i] = 0.9 ** p;
  });
  const cov = tensor(diag, { shape: [n, n] });
  const { values, vectors } = topEigen(cov, 40);
  const v = vectors.data() as Float64Array;
  for (let c = 0; c < 20; c++) {
    near(values[c]!, 0.9 ** c, 1e-12, `eigenvalue ${c}`);
    near(Math.abs(v[perm.indexOf(c) * 40 + c]!), 1, 1e-9, `eigenvector ${c}`);
  }
  cov.dispose();
  vectors.dispose();
});
