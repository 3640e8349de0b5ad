import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { tensor, liveTensors } from '../../../src/engine/index.js';
import {
  normalizedMutualInfo,
  mutualInfoScore,
  labelEntropy,
  kmeans,
  clusteringNmi,
} from '../../../src/ml/eval/index.js';
import { gauss, prng } from './reference.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/eval');

test('NMI: hand-computed values and limit cases (arithmetic normalisation)', () => {
  // Contingency {(0,0): 2, (0,1): 1, (1,1): 1, (1,2): 2}: I = (2/3) ln 2, H(a) = ln 2, H(b) = ln 3.
  const a = [0, 0, 0, 1, 1, 1],
    b = [0, 0, 1, 1, 2, 2];
  assert.ok(Math.abs(mutualInfoScore(a, b) - (2 / 3) * Math.LN2) < 1e-15);
  assert.ok(Math.abs(labelEntropy(b) - Math.log(3)) < 1e-15);
  assert.ok(Math.abs(normalizedMutualInfo(a, b) - ((4 / 3) * Math.LN2) / Math.log(6)) < 1e-15);
  assert.ok(Math.abs(normalizedMutualInfo(b, a) - normalizedMutualInfo(a, b)) < 1e-15, 'symmetric');
  assert.ok(normalizedMutualInfo([1, 1, 2, 2, 3], [7, 7, 0, 0, 5]) > 1 - 1e-12, 'a renaming of the clusters');
  assert.equal(normalizedMutualInfo([0, 0, 1, 1], [0, 1, 0, 1]), 0, 'independent');
  assert.equal(normalizedMutualInfo([4, 4, 4], [2, 2, 2]), 1, 'one cluster each: 1 as in scikit-learn');
  assert.equal(normalizedMutualInfo([4, 4, 4], [1, 2, 3]), 0);
  assert.throws(() => normalizedMutualInfo([1, 2], [1]), /labels/);
});

test('NMI: the fixture pairs (Python contingency-table implementation)', () => {
  const { pairs } = JSON.parse(readFileSync(path.join(FIXTURES, 'nmi.json'), 'utf8')) as {
    pairs: { a: number[]; b: number[]; nmi: number }[];
  };
  assert.ok(pairs.length >= 8);
  for (const p of pairs)
    assert.ok(
      Math.abs(normalizedMutualInfo(p.a, p.b) - p.nmi) < 1e-12,
      `${normalizedMutualInfo(p.a, p.b)} vs ${p.nmi}`,
    );
});

function blobs(n: number, d: number, k: number, sep: number, seed: number): { x: Float64Array; y: Int32Array } {
  const r = prng(seed);
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => sep * gauss(r)));
  const x = new Float64Array(n * d),
    y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let j = 0; j < d; j++) x[i * d + j] = centers[y[i]!]![j]! + gauss(r);
  }
  return { x, y };
}

/** Lloyd's algorithm in plain JS from given centres (ties to the lower centre index). */
function referenceLloyd(
  x: Float64Array,
  n: number,
  d: number,
  init: number[][],
  maxIter: number,
): { labels: Int32Array; inertia: number } {
  let c = init.map((row) => [...row]);
  const k = c.length;
  let labels = new Int32Array(n).fill(-1);
  let inertia = 0;
  for (let it = 0; it <= maxIter; it++) {
    const next = new Int32Array(n);
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = Infinity,
        arg = 0;
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += (x[i * d + t]! - c[j]![t]!) ** 2;
        if (s < best) {
          best = s;
          arg = j;
        }
      }
      next[i] = arg;
      inertia += best;
    }
    if (next.every((v, i) => v === labels[i])) break;
    labels = next;
    c = c.map((_, j) => {
      const m = new Array<number>(d).fill(0);
      let cnt = 0;
      for (let i = 0; i < n; i++)
        if (labels[i] === j) {
          cnt++;
          for (let t = 0; t < d; t++) m[t]! += x[i * d + t]!;
        }
      return m.map((v) => v / cnt);
    });
  }
  return { labels, inertia };
}

test('k-means recovers separated blobs, is seed-deterministic and frees its tensors', () => {
  const before = liveTensors();
  const n = 400,
    d = 5,
    k = 4;
  const { x, y } = blobs(n, d, k, 10, 1);
  const xt = tensor(x, { shape: [n, d] });
  const r1 = kmeans(xt, k, { seed: 3 });
  const r2 = kmeans(xt, k, { seed: 3 });
  assert.deepEqual(r1.assignments, r2.assignments);
  assert.equal(r1.converged, true);
  assert.ok(normalizedMutualInfo(y, r1.assignments) > 1 - 1e-12);
  assert.deepEqual(r1.centroids.shape, [k, d]);
  // Centroids are in the input's coordinates: each is the mean of its cluster.
  const c = r1.centroids.data() as Float64Array;
  for (let j = 0; j < k; j++) {
    const members = Array.from(r1.assignments.keys()).filter((i) => r1.assignments[i] === j);
    for (let t = 0; t < d; t++) {
      const mean = members.reduce((s, i) => s + x[i * d + t]!, 0) / members.length;
      assert.ok(Math.abs(c[j * d + t]! - mean) < 1e-9);
    }
  }
  r1.centroids.dispose();
  r2.centroids.dispose();
  const nmi = clusteringNmi(xt, y, { seed: 0 });
  assert.ok(nmi.nmi > 1 - 1e-12);
  assert.equal(nmi.k, 4);
  xt.dispose();
  assert.equal(liveTensors(), before);
});

test('k-means iterations equal a plain Lloyd reference from the same initial centres', () => {
  const n = 300,
    d = 3,
    k = 5;
  const { x } = blobs(n, d, k, 1.5, 2); // overlapping: several iterations
  const init = [0, 1, 2, 3, 4].map((i) => Array.from(x.subarray(i * d, i * d + d)));
  const xt = tensor(x, { shape: [n, d] });
  const it = tensor(init, { dtype: 'float64' });
  const got = kmeans(xt, k, { init: it, maxIter: 300, tol: 0 });
  const ref = referenceLloyd(x, n, d, init, 300);
  assert.ok(got.iterations > 2, `iterations ${got.iterations}`);
  assert.deepEqual(got.assignments, ref.labels);
  assert.ok(Math.abs(got.inertia - ref.inertia) < 1e-9 * ref.inertia);
  // k-means++ with restarts never does worse than its first run.
  const one = kmeans(xt, k, { seed: 9 }),
    five = kmeans(xt, k, { seed: 9, nInit: 5 });
  assert.ok(five.inertia <= one.inertia + 1e-9);
  for (const t of [got.centroids, one.centroids, five.centroids, xt, it]) t.dispose();
});

test('k-means re-seeds an empty cluster with the farthest point', () => {
  // Two tight groups and one centre placed where no point is nearest: it must be moved.
  const x = tensor(
    [
      [0, 0],
      [0, 0.1],
      [0.1, 0],
      [5, 5],
      [5, 5.1],
      [5.1, 5],
      [9, 9],
    ],
    { dtype: 'float32' },
  );
  const init = tensor(
    [
      [0, 0],
      [5, 5],
      [-100, -100],
    ],
    { dtype: 'float32' },
  );
  const r = kmeans(x, 3, { init });
  assert.equal(new Set(r.assignments).size, 3);
  assert.notEqual(r.assignments[6], r.assignments[3], 'the outlier got its own cluster');
  assert.throws(() => kmeans(x, 8), /k must be/);
  r.centroids.dispose();
  x.dispose();
  init.dispose();
});
