// Reducers: how per-element losses become the minimised scalar, and the split of a reduced loss
// into parts that add up to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, randn, tensor } from '../../../src/engine/index.js';
import { ContrastiveLoss, NPairsLoss, TripletMarginLoss } from '../../../src/ml/losses/index.js';
import { checkReducer, reduce, splitReduce } from '../../../src/ml/reducers/index.js';
import { labelsOf } from '../losses/helpers.js';

const batch = (n: number, seed: number) => randn([n, 4], { dtype: 'float64', generator: new Generator(seed) });

test('mean, sum and avgNonZero of a vector; an empty vector gives a zero connected to the graph', () => {
  const l = tensor([0, 1, 0, 3], { dtype: 'float64' });
  const anchor = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  assert.equal(reduce(l, 'mean', anchor).item(), 1);
  assert.equal(reduce(l, 'sum', anchor).item(), 4);
  assert.equal(reduce(l, 'avgNonZero', anchor).item(), 2);
  assert.equal(reduce(l, 'none', anchor), l);
  const empty = reduce(tensor([], { dtype: 'float64' }), 'mean', anchor);
  assert.equal(empty.item(), 0);
  empty.backward();
  assert.deepEqual(anchor.grad?.tolist(), [0, 0]);
  assert.throws(
    () => checkReducer('TripletMarginLoss', 'max' as never),
    /reducer must be one of mean \| sum \| avgNonZero/,
  );
});

test('a split divides every part by the whole loss denominator, so the parts add up to it', () => {
  const pieces = [tensor([1, 2, 3], { dtype: 'float64' }), tensor([4, 0, 1], { dtype: 'float64' })];
  const active = [tensor([true, false, true]), tensor([true, true, false])];
  const anchor = tensor([0], { dtype: 'float64' });
  const parts = (r: 'mean' | 'sum' | 'avgNonZero'): number[] =>
    splitReduce(pieces, active, active, 3, r, anchor).map((t) => t.item());
  assert.deepEqual(parts('sum'), [4, 4]);
  assert.deepEqual(parts('mean'), [4 / 3, 4 / 3]);
  assert.deepEqual(parts('avgNonZero'), [1, 1]);
  assert.throws(() => splitReduce(pieces, active, active, 3, 'none', anchor), /needs a reducing reducer/);
});

test('reducer none returns the per-element losses', () => {
  const x = batch(6, 11),
    y = labelsOf([0, 0, 1, 1, 2, 2]);
  const t = new TripletMarginLoss({ reducer: 'none', margin: 0.5 }).forward(x, y);
  assert.deepEqual(t.shape, [6 * 1 * 4]);
  const none = new TripletMarginLoss({ reducer: 'none' }).forward(x, labelsOf([0, 1, 2, 3, 4, 5]));
  assert.deepEqual(none.shape, [0]);
  const c = new ContrastiveLoss({ reducer: 'none' }).forward(x, y);
  assert.deepEqual(c.shape, [6 + 24]);
  const n = new NPairsLoss({ reducer: 'none' }).forward(x, y);
  assert.deepEqual(n.shape, [3]);
});
