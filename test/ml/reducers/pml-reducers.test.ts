// Reducers against pytorch-metric-learning 2.9.0 (test/fixtures/pml/reducers.json, float64): each
// reducer on terms of every reduction type (value and gradient with respect to the terms), and
// losses given a reducer object (value and gradient with respect to the embeddings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, tidy, zeros, type Tensor } from '../../../src/engine/index.js';
import {
  AvgNonZeroReducer,
  ClassWeightedReducer,
  DivisorReducer,
  DoNothingReducer,
  MeanReducer,
  MultipleReducers,
  PerAnchorReducer,
  SumReducer,
  ThresholdReducer,
  reduce,
  type Reducer,
  type ReductionKind,
} from '../../../src/ml/reducers/index.js';
import { createLoss, type LossName } from '../../../src/ml/losses/index.js';
import { assertClose, f64, flat, labelsOf } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

interface Spec {
  name: string;
  low?: number;
  high?: number;
  weights?: number[];
  reducer?: Spec;
  reducers?: Record<string, Spec>;
  fallback?: Spec;
}
export function reducerOf(s: Spec): Reducer {
  switch (s.name) {
    case 'mean':
      return new MeanReducer();
    case 'sum':
      return new SumReducer();
    case 'avgNonZero':
      return new AvgNonZeroReducer();
    case 'threshold':
      return new ThresholdReducer({ low: s.low, high: s.high });
    case 'classWeighted':
      return new ClassWeightedReducer(s.weights!);
    case 'divisor':
      return new DivisorReducer();
    case 'perAnchor':
      return new PerAnchorReducer({ reducer: reducerOf(s.reducer!) });
    case 'multiple':
      return new MultipleReducers(
        Object.fromEntries(Object.entries(s.reducers!).map(([k, v]) => [k, reducerOf(v)])),
        reducerOf(s.fallback!),
      );
    case 'none':
      return new DoNothingReducer();
    default:
      throw new Error(s.name);
  }
}

interface Fixture {
  direct: {
    reducer: Spec;
    kind: ReductionKind;
    losses: number[];
    indices: number[][];
    labels: number[];
    batch: number;
    divisor?: number;
    expected: { value: number; grad: number[] };
  }[];
  losses: {
    loss: LossName;
    options: Record<string, unknown>;
    reducer: Spec;
    input: number[][];
    labels: number[];
    expected: { loss?: number; grad?: number[][]; terms?: number[]; gradOfSum?: number[][] };
  }[];
}
const fx = loadPml<Fixture>('reducers');

test('every reducer reduces terms of every kind as PML does (value and gradient)', () => {
  assert.ok(fx.direct.length >= 36);
  for (const c of fx.direct) {
    tidy(() => {
      const what = `${JSON.stringify(c.reducer)} on ${c.kind}`;
      const terms = f64(c.losses, true);
      const v = reduce(terms, reducerOf(c.reducer), zeros([c.batch, 5], { dtype: 'float64' }), {
        kind: c.kind,
        indices: c.indices,
        labels: c.labels,
        divisor: c.divisor,
      });
      assertClose(v.item(), c.expected.value, `${what}: value`, 1e-12);
      const [g] = grad(v, [terms], { allowUnused: true });
      assertClose(g ? g.dataNumbers() : c.losses.map(() => 0), c.expected.grad, `${what}: gradient`, 1e-12);
    });
  }
});

test('losses given reducer objects match PML with the same reducers', () => {
  for (const c of fx.losses) {
    const what = `${c.loss} with ${JSON.stringify(c.reducer)}`;
    const l = createLoss(c.loss, { ...c.options, reducer: reducerOf(c.reducer) } as never);
    tidy(() => {
      const x = f64(c.input, true);
      const v: Tensor = (l as { forward(x: Tensor, y: Tensor): Tensor }).forward(x, labelsOf(c.labels));
      if (c.expected.terms) {
        // DoNothingReducer: the terms themselves, positive pairs then negative pairs.
        assertClose(v.dataNumbers(), c.expected.terms, `${what}: terms`);
        assertClose(grad(v.sum(), [x])[0]!.dataNumbers(), flat(c.expected.gradOfSum!), `${what}: gradient`);
      } else {
        assertClose(v.item(), c.expected.loss!, `${what}: value`, 1e-10);
        assertClose(grad(v, [x])[0]!.dataNumbers(), flat(c.expected.grad!), `${what}: gradient`, 1e-10);
      }
    });
    l.dispose();
  }
});

test('reducers say what they lack', () => {
  const t = f64([1, 2]);
  const anchor = zeros([2, 2], { dtype: 'float64' });
  assert.throws(() => reduce(t, new DivisorReducer(), anchor), /no divisor/);
  assert.throws(() => reduce(t, new ClassWeightedReducer([1]), anchor), /no labels/);
  assert.throws(() => reduce(t, new ClassWeightedReducer([1]), anchor, { labels: [0, 3] }), /no weight for class 3/);
  assert.throws(() => new ThresholdReducer({}), /low, high or both/);
  assert.throws(() => createLoss('triplet', { reducer: 'median' } as never), /reducer must be one of/);
  // A split needs parts that add up: a reducer object is refused there.
  const l = createLoss('triplet', { reducer: new MeanReducer() });
  assert.throws(
    () =>
      l.split(
        f64([
          [1, 0],
          [0, 1],
          [1, 1],
        ]),
        labelsOf([0, 0, 1]),
      ),
    /named reducer/,
  );
  t.dispose();
  anchor.dispose();
});
