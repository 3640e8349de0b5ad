import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tsne,
  knnAgreement,
  jointProbabilities,
  conditionalProbabilities,
  squaredDistances,
  klDivergence,
} from '../../src/report/tsne.js';
import { pca, centre } from '../../src/report/pca.js';
import { symmetricEigen } from '../../src/ml/linalg.js';
import { reportRng, sampleIndices } from '../../src/report/random.js';

/** c well-separated Gaussian clusters of m points in d dims (centres ~N(0, spread^2), unit noise). */
function clusters(
  c: number,
  m: number,
  d: number,
  spread: number,
  seed: number,
): { x: Float64Array; labels: Int32Array } {
  const rng = reportRng(seed);
  const centres = Array.from({ length: c }, () => Array.from({ length: d }, () => rng.normal() * spread));
  const n = c * m;
  const x = new Float64Array(n * d),
    labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % c; // interleaved, so that no ordering artefact can help
    labels[i] = k;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[k]![j]! + rng.normal();
  }
  return { x, labels };
}

test('t-SNE separates well-separated Gaussian clusters (kNN label agreement in 2-D > 0.95)', () => {
  const { x, labels } = clusters(5, 60, 80, 4, 1); // 80 dims > 50: the PCA step runs
  const r = tsne(x, labels.length, 80, { seed: 3 });
  assert.equal(r.embedding.length, 2 * labels.length);
  assert.ok(r.embedding.every(Number.isFinite));
  const agree = knnAgreement(r.embedding, labels, 10);
  assert.ok(agree > 0.95, `kNN agreement ${agree}`);
  assert.ok(r.kl > 0 && r.kl < 2, `KL ${r.kl}`);
  assert.ok(r.pcaExplained > 0.5 && r.pcaExplained <= 1);
  // Each cluster's 2-D centroid is farther from the others than the cluster's own spread.
  const cent = Array.from({ length: 5 }, () => [0, 0, 0]);
  labels.forEach((c, i) => {
    cent[c]![0]! += r.embedding[2 * i]!;
    cent[c]![1]! += r.embedding[2 * i + 1]!;
    cent[c]![2]!++;
  });
  for (const c of cent) {
    c[0]! /= c[2]!;
    c[1]! /= c[2]!;
  }
  let spread = 0;
  labels.forEach((c, i) => {
    spread = Math.max(spread, Math.hypot(r.embedding[2 * i]! - cent[c]![0]!, r.embedding[2 * i + 1]! - cent[c]![1]!));
  });
  let minGap = Infinity;
  for (let a = 0; a < 5; a++)
    for (let b = a + 1; b < 5; b++)
      minGap = Math.min(minGap, Math.hypot(cent[a]![0]! - cent[b]![0]!, cent[a]![1]! - cent[b]![1]!));
  assert.ok(minGap > spread, `closest centroids ${minGap} vs largest radius ${spread}`);
});

test('t-SNE is deterministic for a seed; random initialisation depends on it', () => {
  const { x, labels } = clusters(3, 30, 10, 5, 2);
  const n = labels.length;
  for (const init of ['pca', 'random'] as const) {
    const a = tsne(x, n, 10, { seed: 7, init, iterations: 200 });
    const b = tsne(x, n, 10, { seed: 7, init, iterations: 200 });
    assert.deepEqual(a.embedding, b.embedding, `${init}: same seed, same map`);
    assert.equal(a.kl, b.kl);
  }
  const c = tsne(x, n, 10, { seed: 7, init: 'random', iterations: 200 });
  const d = tsne(x, n, 10, { seed: 8, init: 'random', iterations: 200 });
  assert.notDeepEqual(c.embedding, d.embedding);
  // Float32 input of the same values gives the same map as Float64 (values are widened exactly).
  const e = tsne(
    Float32Array.from(x, (v) => Math.fround(v)),
    n,
    10,
    { seed: 7, iterations: 50 },
  );
  const f = tsne(
    Float64Array.from(x, (v) => Math.fround(v)),
    n,
    10,
    { seed: 7, iterations: 50 },
  );
  assert.deepEqual(e.embedding, f.embedding);
});

test('joint probabilities: symmetric, zero diagonal, sum 1; each row calibrated to the perplexity', () => {
  const { x } = clusters(2, 40, 6, 3, 4);
  const n = 80;
  const dist = squaredDistances(x, n, 6);
  const p = jointProbabilities(dist, n, 10);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    assert.equal(p[i * n + i], 0);
    for (let j = 0; j < n; j++) {
      sum += p[i * n + j]!;
      assert.equal(p[i * n + j], p[j * n + i]);
    }
  }
  assert.ok(Math.abs(sum - 1) < 1e-7, `sum ${sum}`);
  const c = conditionalProbabilities(dist, n, 10);
  for (let i = 0; i < n; i++) {
    let rowSum = 0,
      h = 0;
    for (let j = 0; j < n; j++) {
      const v = c[i * n + j]!;
      rowSum += v;
      if (v > 0) h -= v * Math.log(v);
    }
    assert.ok(Math.abs(rowSum - 1) < 1e-12);
    assert.ok(Math.abs(Math.exp(h) - 10) < 1e-3, `row ${i}: perplexity ${Math.exp(h)}`);
  }
  // KL(P || Q) is non-negative for any map.
  const y = new Float64Array(2 * n).map((_, i) => Math.sin(i));
  assert.ok(klDivergence(p, y, n) >= 0);
});

test('t-SNE rejects bad input and handles tiny sets', () => {
  assert.throws(() => tsne(new Float64Array(3), 1, 3), /at least 2 points/);
  assert.throws(() => tsne(new Float64Array(5), 2, 3), /values for 2 x 3/);
  assert.throws(() => tsne(Float64Array.from([0, 1, NaN, 2]), 2, 2), /non-finite/);
  const r = tsne(Float64Array.from([0, 0, 1, 1, 5, 5, 6, 6]), 4, 2, { iterations: 100 });
  assert.ok(r.embedding.every(Number.isFinite));
  assert.ok(r.perplexity <= 1, 'perplexity capped for 4 points');
  // Duplicated points do not break the calibration.
  const dup = tsne(new Float64Array(40).fill(1), 20, 2, { iterations: 50 });
  assert.ok(dup.embedding.every(Number.isFinite));
});

test('PCA: variances and scores match the exact eigendecomposition of the covariance', () => {
  const n = 300,
    d = 12;
  const rng = reportRng(5);
  const x = new Float64Array(n * d);
  // Anisotropic data: column j has scale 12 - j, mixed by a fixed rotation-ish coupling.
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() * (d - j) + (j > 0 ? 0.3 * x[i * d + j - 1]! : 0);
  const xc = centre(x, n, d);
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) cov[a * d + b]! += (xc[i * d + a]! * xc[i * d + b]!) / (n - 1);
  const exact = symmetricEigen(cov, d);
  const r = pca(x, n, d, 4, { seed: 1 });
  assert.equal(r.k, 4);
  for (let j = 0; j < 4; j++)
    assert.ok(
      Math.abs(r.variances[j]! - exact.values[j]!) / exact.values[j]! < 1e-6,
      `variance ${j}: ${r.variances[j]} vs ${exact.values[j]}`,
    );
  // Scores are the projections on the eigenvectors (up to sign).
  for (let j = 0; j < 4; j++) {
    let dot = 0,
      nrm = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += xc[i * d + a]! * exact.vectors[a * d + j]!;
      dot += s * r.scores[i * 4 + j]!;
      nrm += s * s;
    }
    assert.ok(Math.abs(Math.abs(dot) / nrm - 1) < 1e-6, `component ${j}`);
  }
  const explained = exact.values.slice(0, 4).reduce((a, b) => a + b, 0) / exact.values.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(r.explained - explained) < 1e-9);
  // Keeping every direction preserves pairwise distances.
  const full = pca(x, n, d, d, { seed: 2 });
  const d0 = squaredDistances(xc, n, d),
    d1 = squaredDistances(full.scores, n, d);
  for (let i = 0; i < 50; i++) assert.ok(Math.abs(d0[i]! - d1[i]!) <= 1e-8 * Math.max(1, d0[i]!));
});

test('symmetricEigen (used by the report PCA): symmetric 3x3 with known spectrum', () => {
  const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
  assert.deepEqual(
    Array.from(values, (v) => Math.round(v * 1e9) / 1e9),
    [5, 3, 1],
  );
  // A v = lambda v for each column.
  const A = [
    [2, 1, 0],
    [1, 2, 0],
    [0, 0, 5],
  ];
  for (let j = 0; j < 3; j++)
    for (let i = 0; i < 3; i++) {
      const av = A[i]!.reduce((s, a, k) => s + a * vectors[k * 3 + j]!, 0);
      assert.ok(Math.abs(av - values[j]! * vectors[i * 3 + j]!) < 1e-9);
    }
});

test('sampleIndices: sorted, distinct, deterministic, all when k >= n', () => {
  const a = sampleIndices(1000, 50, 3),
    b = sampleIndices(1000, 50, 3),
    c = sampleIndices(1000, 50, 4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(new Set(a).size, 50);
  for (let i = 1; i < a.length; i++) assert.ok(a[i]! > a[i - 1]!);
  assert.deepEqual(Array.from(sampleIndices(5, 10, 0)), [0, 1, 2, 3, 4]);
});
