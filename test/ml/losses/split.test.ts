// The paper's decomposition: tightness + contrastive parts, and the PCE bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, liveTensors, randn, randint, tidy } from '../../../src/engine/index.js';
import {
  createLoss,
  CrossEntropyLoss,
  LOSS_NAMES,
  LogitLoss,
  MetricLoss,
  needsClassTable,
  PairwiseCrossEntropyLoss,
  tightnessContrastiveSplit,
  type LossName,
} from '../../../src/ml/losses/index.js';
import { assertClose, f64, labelsOf } from './helpers.js';

const D = 5,
  C = 4;
const opts = (name: LossName): object =>
  needsClassTable(name) ? { numClasses: C, embeddingSize: D, seed: 3 } : name === 'margin' ? { nu: 0.05 } : {};
/** Losses whose value is no sum of a same-class and an other-class part (a squared hinge, a log over both, ranks). */
const NO_SPLIT: readonly LossName[] = [
  'lifted-structure',
  'angular',
  'circle',
  'dynamic-soft-margin',
  'fast-ap',
  'histogram',
  'instance',
  'manifold',
  'nca',
  'p2s-grad',
  'pnp',
  'tuplet-margin',
  'generalized-lifted-structure',
  'smooth-ap',
];

test('for every splittable loss, tightness + contrastive (+ other) is the loss', () => {
  const x = randn([12, D], { dtype: 'float64', generator: new Generator(1) });
  const y = labelsOf([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 0, 1]);
  for (const name of LOSS_NAMES) {
    if (NO_SPLIT.includes(name)) continue;
    const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(name, opts(name));
    l.to('float64');
    const input = l instanceof LogitLoss ? x.narrow(1, 0, C) : x;
    const s = tightnessContrastiveSplit(l, input, y);
    const v = (l instanceof LogitLoss ? l.forward(input, y) : l.forward(input, y)).item();
    assertClose(s.total, v, `${name}: total`, 1e-12);
    assert.ok(Number.isFinite(s.tightness) && Number.isFinite(s.contrastive), name);
    assert.equal(s.other !== 0, name === 'margin', `${name}: other`);
  }
});

test('the losses without an additive split say so', () => {
  const x = randn([6, D], { dtype: 'float64' });
  for (const name of NO_SPLIT) {
    const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(name, opts(name));
    l.to('float64');
    assert.throws(
      () => tightnessContrastiveSplit(l, x, labelsOf([0, 0, 1, 1, 2, 2])),
      new RegExp(`${l.name}: this loss has no additive tightness/contrastive split`),
    );
  }
});

test("CE split is the paper's -1/n Σ θ_yᵀz (tightness) and 1/n Σ log Σ_k exp θ_kᵀz (contrastive)", () => {
  tidy(() => {
    const g = new Generator(2);
    const z = randn([9, D], { dtype: 'float64', generator: g });
    const theta = randn([C, D], { dtype: 'float64', generator: g });
    const labels = [0, 1, 2, 3, 0, 1, 2, 3, 3];
    const logits = z.matmul(theta.t());
    const s = tightnessContrastiveSplit('cross-entropy', logits, labelsOf(labels));
    const zs = z.tolist() as number[][],
      th = theta.tolist() as number[][];
    const dot = (a: number[], b: number[]): number => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
    let tight = 0,
      contr = 0;
    zs.forEach((zi, i) => {
      tight -= dot(th[labels[i]!]!, zi) / zs.length;
      contr += Math.log(th.reduce((acc, tk) => acc + Math.exp(dot(tk, zi)), 0)) / zs.length;
    });
    assertClose(s.tightness, tight, 'tightness', 1e-12);
    assertClose(s.contrastive, contr, 'contrastive', 1e-12);
    assertClose(s.total, new CrossEntropyLoss().forward(logits, labelsOf(labels)).item(), 'total', 1e-12);
  });
});

test('contrastive loss split by name: the positive-pair and negative-pair terms', () => {
  const x = f64([
    [0, 0],
    [0.3, 0.4],
    [3, 4],
    [3, 4.5],
  ]);
  const y = labelsOf([0, 0, 1, 1]);
  const s = tightnessContrastiveSplit('contrastive', x, y, {
    options: { distance: { name: 'euclidean' }, negMargin: 5.5 },
  });
  // Positive pairs (0,1), (2,3) at distances 0.5, 0.5; negatives (0,2) 5, (0,3) √29.25 ≈ 5.408,
  // (1,2) 4.5, (1,3) √26.01 ≈ 5.1 (each twice): hinge 5.5 - d.
  assertClose(s.tightness, 0.5, 'tightness: mean positive distance', 1e-12);
  const negs = [5, Math.sqrt(29.25), 4.5, Math.sqrt(2.7 ** 2 + 4.1 ** 2)].map((d) => 5.5 - d);
  assertClose(s.contrastive, negs.reduce((a, b) => a + b) / 4, 'contrastive: mean negative hinge', 1e-12);
});

// With uniform soft means (the zero classifier, p_ik = 1/K) the identity of pce.ts reads
// PCE = CE(0) − ‖∇CE(0)‖²/(2λ) = log K − Σ_k ‖c_k − c̄‖²/(2λ) ≤ log K. The general identity, the
// sandwich and the λ ordering are in pce-bound.test.ts.
test('uniform soft means: PCE = log K − Σ_k ‖c_k − c̄‖²/(2λ) ≤ log K, on random batches (λ eigen and trace)', () => {
  const g = new Generator(4);
  let checked = 0;
  for (let trial = 0; trial < 60; trial++) {
    tidy(() => {
      const n = 4 + (trial % 9),
        k = 2 + (trial % 4),
        d = 2 + (trial % 5);
      const scale = [0.1, 1, 3, 10][trial % 4]!;
      const z = randn([n, d], { dtype: 'float64', generator: g }).mul(scale);
      const y = randint(0, k, [n], { generator: g });
      const labels = y.dataNumbers();
      const rows = z.tolist() as number[][];
      const c = Array.from({ length: k }, (_, cls) =>
        Array.from({ length: d }, (_, e) => rows.reduce((a, r, j) => a + (labels[j] === cls ? r[e]! : 0), 0) / n),
      );
      const cbar = Array.from({ length: d }, (_, e) => rows.reduce((a, r) => a + r[e]!, 0) / (n * k));
      const spread = c.reduce((a, ck) => a + ck.reduce((b, v, e) => b + (v - cbar[e]!) ** 2, 0), 0);
      for (const lambda of ['eigen', 'trace'] as const) {
        const lam =
          lambda === 'eigen' ? PairwiseCrossEntropyLoss.lambdaEigen(z) : PairwiseCrossEntropyLoss.lambdaTrace(z);
        const pce = new PairwiseCrossEntropyLoss({ numClasses: k, lambda }).forward(z, y).item();
        assertClose(pce, Math.log(k) - spread / (2 * lam), `trial ${trial} ${lambda}`, 1e-10);
        assert.ok(pce <= Math.log(k) + 1e-12, `trial ${trial}: PCE ${pce} > log K ${Math.log(k)}`);
      }
      checked++;
    });
  }
  assert.equal(checked, 60);
});

test("PCE's tightness is the same-class Gram sum; its split adds up", () => {
  const z = f64([
    [1, 0],
    [0, 1],
    [1, 1],
    [2, 0],
  ]);
  const y = labelsOf([0, 0, 1, 1]);
  const s = new PairwiseCrossEntropyLoss({ lambda: 2 }).split(z, y);
  // Σ_{same class} z_iᵀz_j (j = i included): class 0: 1 + 1 + 0 + 0 = 2; class 1: 2 + 4 + 2·2 = 10.
  assertClose(s.tightness.item(), -12 / (2 * 2 * 16), 'tightness', 1e-12);
  const v = new PairwiseCrossEntropyLoss({ lambda: 2 }).forward(z, y).item();
  assertClose(s.tightness.item() + s.contrastive.item(), v, 'total', 1e-12);
});

test('split by name builds the loss, casts its tables to the input dtype and frees it', () => {
  const x = randn([6, D], { dtype: 'float64' });
  const s = tightnessContrastiveSplit('proxy-anchor', x, labelsOf([0, 1, 2, 3, 0, 1]), {
    options: { numClasses: C, embeddingSize: D },
  });
  assert.ok(s.tightness > 0 && s.contrastive > 0);
  const center = tightnessContrastiveSplit('center', x, labelsOf([0, 1, 2, 3, 0, 1]), {
    options: { numClasses: C, embeddingSize: D },
  });
  assert.equal(center.contrastive, 0, 'center loss is pure tightness');
  const y = labelsOf([0, 1, 2, 3, 0, 1]);
  const before = liveTensors();
  tightnessContrastiveSplit('cosface', x, y, { options: { numClasses: C, embeddingSize: D } });
  const after = liveTensors(); // ≤: the GC backstop may free unrelated garbage meanwhile
  assert.ok(after <= before, `the loss built from its name is disposed (${after - before} left)`);
});
