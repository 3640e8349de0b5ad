import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, liveTensors } from '../../../src/engine/index.js';
import {
  mutualInformation,
  crossFittedProbe,
  stratifiedFolds,
  denseLabels,
  describeMiWork,
} from '../../../src/ml/mi/index.js';
import { prng, gauss } from '../eval/reference.js';

// Y uniform over K = 4 classes, Z | Y=y ~ N(sep e_y, I_4). Then log p(y|z) = -|z - mu_y|^2/2 - LSE,
// and I(Z;Y) = H(Y) + E[log p(Y|Z)] is computed to ~0.003 nats by Monte Carlo with the true density.
const K = 4,
  D = 4,
  SEP = 2;
const mean = (c: number, j: number): number => (j === c ? SEP : 0);
function logPosterior(z: ArrayLike<number>, off: number): number[] {
  const l = Array.from({ length: K }, (_, c) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += (z[off + j]! - mean(c, j)) ** 2;
    return -s / 2;
  });
  const m = Math.max(...l);
  const lse = m + Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0));
  return l.map((v) => v - lse);
}
function sample(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = prng(seed);
  const x = new Float32Array(n * D),
    y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(r() * K);
    for (let j = 0; j < D; j++) x[i * D + j] = mean(y[i]!, j) + gauss(r);
  }
  return { x, y };
}
function trueMi(): number {
  const { x, y } = sample(100000, 99);
  let acc = 0;
  for (let i = 0; i < y.length; i++) acc += logPosterior(x, i * D)[y[i]!]!;
  return Math.log(K) + acc / y.length;
}

test('mixture with known labels: both views recover I(Z;Y), bounded by H(Y)', () => {
  const before = liveTensors();
  const truth = trueMi(); // ~0.92 nats
  const n = 5000;
  const { x, y } = sample(n, 1);
  const z = tensor(x, { shape: [n, D] });
  const rep = mutualInformation(z, y, { probe: { folds: 3, steps: 150, weightDecay: 1e-3 } });
  assert.ok(Math.abs(rep.hY.nats - Math.log(K)) < 0.01);
  const probe = rep.discriminative!,
    gen = rep.generative!;
  assert.equal(probe.source, 'linear-probe');
  assert.equal(probe.folds, 3);
  // Linear softmax is the Bayes-optimal family here (equal covariances), so the held-out probe
  // lands on the truth up to sampling noise (~0.015 nats at n = 5000).
  assert.ok(Math.abs(probe.mi.nats - truth) < 0.05, `probe ${probe.mi.nats} vs ${truth}`);
  assert.equal(gen.transform, 'pca-whiten');
  assert.equal(gen.dims, 4);
  assert.ok(Math.abs(gen.mi.nats - truth) < 0.08, `kNN ${gen.mi.nats} vs ${truth}`);
  assert.ok(gen.hZ.nats > gen.hZgivenY.nats);
  for (const q of [probe.mi, gen.mi, probe.crossEntropy, gen.hZ, rep.hY])
    assert.ok(Math.abs(q.bits - q.nats / Math.LN2) < 1e-12);
  assert.ok(probe.mi.nats <= rep.hY.nats && gen.mi.nats <= rep.hY.nats + 0.05);
  assert.deepEqual(rep.warnings, []);

  // (a) The true posterior as "classifier logits": H(Y) - CE is the plug-in of the truth.
  const logits = new Float32Array(n * K);
  for (let i = 0; i < n; i++) logits.set(logPosterior(x, i * D), i * K);
  const lg = tensor(logits, { shape: [n, K] });
  const withLogits = mutualInformation(z, y, { logits: lg, generative: { raw: true } });
  assert.equal(withLogits.discriminative!.source, 'logits');
  assert.ok(
    Math.abs(withLogits.discriminative!.mi.nats - truth) < 0.04,
    `logits ${withLogits.discriminative!.mi.nats}`,
  );
  // A probe cannot beat the Bayes posterior by more than noise.
  assert.ok(probe.mi.nats <= withLogits.discriminative!.mi.nats + 0.02);
  assert.equal(withLogits.generative!.transform, 'raw');
  assert.ok(Math.abs(withLogits.generative!.mi.nats - truth) < 0.08);
  assert.equal(JSON.stringify(JSON.parse(JSON.stringify(rep))), JSON.stringify(rep));
  z.dispose();
  lg.dispose();
  assert.equal(liveTensors(), before);
});

test('labels independent of the embeddings: both views near 0', () => {
  const n = 3000;
  const { x } = sample(n, 2);
  const r = prng(3);
  const y = Int32Array.from({ length: n }, () => Math.floor(r() * 3));
  const z = tensor(x, { shape: [n, D] });
  const rep = mutualInformation(z, y, { probe: { folds: 3, steps: 100, weightDecay: 1e-3 } });
  assert.ok(Math.abs(rep.discriminative!.mi.nats) < 0.02, `probe ${rep.discriminative!.mi.nats}`);
  assert.ok(Math.abs(rep.generative!.mi.nats) < 0.05, `kNN ${rep.generative!.mi.nats}`);
  z.dispose();
});

test('cross-fitting: stratified folds, and a memorising probe is not rewarded', () => {
  const y = Int32Array.from({ length: 103 }, (_, i) => [5, -2, 9][i % 3]!);
  const { y: dense, classes } = denseLabels(y);
  assert.equal(classes, 3);
  assert.deepEqual([...new Set(dense)].sort(), [0, 1, 2]);
  const folds = stratifiedFolds(dense, 5, 1);
  for (let c = 0; c < 3; c++) {
    const per = [0, 0, 0, 0, 0];
    dense.forEach((v, i) => {
      if (v === c) per[folds[i]!]!++;
    });
    assert.ok(Math.max(...per) - Math.min(...per) <= 1, `class ${c}: ${per}`);
  }
  // 64-dim noise, 200 points, 20 random classes: a probe scored on its own training points would
  // report most of H(Y); out of fold it cannot beat the label frequencies, and the weight decay
  // chosen inside the training folds keeps it from being confidently wrong (CE near H(Y); with a
  // fixed weak decay it would be several nats above).
  const r = prng(4);
  const n = 200,
    d = 64;
  const z = tensor(
    Float32Array.from({ length: n * d }, () => gauss(r)),
    { shape: [n, d] },
  );
  const labels = Int32Array.from({ length: n }, () => Math.floor(r() * 20));
  const rep = mutualInformation(z, labels, { probe: { folds: 4, steps: 100 }, generative: false });
  assert.ok(Math.abs(rep.discriminative!.mi.nats) < 0.3, `probe MI ${rep.discriminative!.mi.nats}`);
  assert.equal(rep.generative, null);
  const p = crossFittedProbe(z, labels, { folds: 2, steps: 20, weightDecay: [0.01, 1] });
  assert.equal(p.folds, 2);
  assert.equal(p.weightDecays.length, 2);
  assert.equal(p.classes, 20);
  z.dispose();
});

test('small classes: k shrinks per class, singletons are left out, with warnings', () => {
  const r = prng(12);
  const n = 60;
  const z = tensor(
    Float32Array.from({ length: n * 2 }, () => gauss(r)),
    { shape: [n, 2] },
  );
  // class 2: 9 points, class 3: 1
  const y = Int32Array.from({ length: n }, (_, i) => (i < 50 ? i % 2 : i < 59 ? 2 : 3));
  const rep = mutualInformation(z, y, { probe: false, generative: { k: 10, dims: 2 } });
  assert.equal(rep.discriminative, null);
  assert.equal(rep.generative!.classesUsed, 3);
  assert.ok(rep.warnings.some((w) => /singleton/.test(w)));
  assert.ok(rep.warnings.some((w) => /k = n_y - 1/.test(w)));
  z.dispose();
});

test('onProgress: every probe step of every fit, then each kNN entropy, in that order; describeMiWork says so', () => {
  const { x, y } = sample(40, 7);
  const z = tensor(x, { shape: [40, D] });
  const events: [string, number, number][] = [];
  const o = { probe: { folds: 2, steps: 4, weightDecay: [1e-3, 1e-1] } };
  const r = mutualInformation(z, y, { ...o, onProgress: (s, done, total) => events.push([s, done, total]) });
  z.dispose();
  assert.ok(r.discriminative && r.generative);
  const probe = events.filter(([s]) => s === 'linear probe');
  // 2 folds × (2 candidate weight decays + the refit) × 4 steps, counted one by one.
  assert.deepEqual(
    probe.map(([, d, t]) => [d, t]),
    Array.from({ length: 24 }, (_, i) => [i + 1, 24]),
  );
  const knn = events.filter(([s]) => s === 'kNN entropies');
  // The whole set, then each of the 4 classes: 0 announced first, the last equal to the total.
  assert.deepEqual(
    knn.map(([, d]) => d),
    [0, 1, 2, 3, 4, 5],
  );
  assert.ok(knn.every(([, , t]) => t === 5));
  const stages = events.map(([s]) => s);
  assert.ok(stages.indexOf('kNN entropies') > stages.lastIndexOf('linear probe'), 'the probe, then the entropies');
  assert.equal(
    describeMiWork(40, D, o),
    'I(Z;Y) of 40 embeddings (4 dims): a linear probe (2 folds × 3 fits × 4 steps), kNN entropies (k=3)',
  );
});
