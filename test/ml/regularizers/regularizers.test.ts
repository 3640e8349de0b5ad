// Regularizers against pytorch-metric-learning 2.9.0 (test/fixtures/pml/regularizers.json,
// float64): alone (value and gradient), and attached to losses as PML attaches them
// (embeddingRegularizer on the embeddings, weightRegularizer on the class table, with weights).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, tidy } from '../../../src/engine/index.js';
import {
  CenterInvariantRegularizer,
  LpRegularizer,
  RegularFaceRegularizer,
  SparseCentersRegularizer,
  ZeroMeanRegularizer,
  type Regularizer,
} from '../../../src/ml/regularizers/index.js';
import { ClassTableLoss, createLoss, type LossName, type MetricLoss } from '../../../src/ml/losses/index.js';
import { assertClose, f64, flat, labelsOf } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

interface Spec {
  name: string;
  p?: number;
  power?: number;
  numClasses?: number;
  centersPerClass?: number;
}
function regularizerOf(s: Spec): Regularizer {
  switch (s.name) {
    case 'lp':
      return new LpRegularizer({ p: s.p, power: s.power });
    case 'zero-mean':
      return new ZeroMeanRegularizer();
    case 'center-invariant':
      return new CenterInvariantRegularizer();
    case 'regular-face':
      return new RegularFaceRegularizer();
    case 'sparse-centers':
      return new SparseCentersRegularizer({ numClasses: s.numClasses!, centersPerClass: s.centersPerClass! });
    default:
      throw new Error(s.name);
  }
}

interface Fixture {
  alone: { regularizer: Spec; input: number[][]; expected: { value: number; grad: number[][] } }[];
  attached: {
    loss: LossName;
    options: Record<string, unknown>;
    embeddingRegularizer?: Spec;
    weightRegularizer?: Spec;
    input: number[][];
    labels: number[];
    params: Record<string, number[][]>;
    expected: { loss: number; grad: Record<string, number[][]> };
  }[];
}
const fx = loadPml<Fixture>('regularizers');

test('each regularizer alone: value and gradient as PML', () => {
  for (const c of fx.alone) {
    tidy(() => {
      const w = f64(c.input, true);
      const v = regularizerOf(c.regularizer).forward(w);
      const what = JSON.stringify(c.regularizer);
      assertClose(v.item(), c.expected.value, `${what}: value`, 1e-12);
      assertClose(grad(v, [w])[0]!.dataNumbers(), flat(c.expected.grad), `${what}: gradient`, 1e-11);
    });
  }
});

test('regularizers attached to losses: loss and gradients (embeddings and class table) as PML', () => {
  for (const c of fx.attached) {
    const o: Record<string, unknown> = { ...c.options };
    if (c.embeddingRegularizer) o.embeddingRegularizer = regularizerOf(c.embeddingRegularizer);
    if (c.weightRegularizer) o.weightRegularizer = regularizerOf(c.weightRegularizer);
    const l = createLoss(c.loss, o as never) as MetricLoss;
    const keys = Object.keys(c.params);
    if (keys.length) {
      l.to('float64');
      l.loadStateDict(new Map(keys.map((k) => [k, f64(c.params[k]!)])));
    }
    tidy(() => {
      const x = f64(c.input, true);
      const v = l.forward(x, labelsOf(c.labels));
      assertClose(v.item(), c.expected.loss, `${c.loss}: value`, 1e-10);
      const leaves = [x, ...keys.map((k) => l.param(k)!)];
      const g = grad(v, leaves);
      assertClose(g[0]!.dataNumbers(), flat(c.expected.grad.input!), `${c.loss}: d/d input`, 1e-10);
      keys.forEach((k, i) =>
        assertClose(g[i + 1]!.dataNumbers(), flat(c.expected.grad[k]!), `${c.loss}: d/d ${k}`, 1e-10),
      );
    });
    l.dispose();
  }
});

test('regularizers by name from options, refused when unknown, and kept out of split() parts', () => {
  const l = createLoss('norm-softmax', {
    numClasses: 3,
    embeddingSize: 2,
    seed: 1,
    weightRegularizer: 'regular-face',
    embeddingRegularizer: 'lp',
    embeddingRegWeight: 0.5,
  });
  assert.ok(l instanceof ClassTableLoss && l.weightRegularizer instanceof RegularFaceRegularizer);
  assert.ok(l.embeddingRegularizer instanceof LpRegularizer);
  tidy(() => {
    const x = f64([
      [1, 0.5],
      [0.2, 1],
      [-1, 0.3],
    ]);
    const y = labelsOf([0, 1, 2]);
    const s = l.split(x.to('float32'), y);
    const total = l.forward(x.to('float32'), y).item();
    assertClose(s.tightness.item() + s.contrastive.item() + s.other!.item(), total, 'parts add up', 1e-6);
    assert.ok(s.other!.item() !== 0);
  });
  assert.throws(
    () => createLoss('triplet', { embeddingRegularizer: 'l2' as never }),
    /a regularizer must be one of lp \| zero-mean/,
  );
  assert.throws(() => createLoss('triplet', { embeddingRegularizer: 'constructor' as never }), /a regularizer must/);
  l.dispose();
});
