// Distances: the matrices between embeddings, the direction of a margin for distances and
// similarities, and distances named in configs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../../src/engine/index.js';
import { createLoss, type TripletMarginLoss } from '../../../src/ml/losses/index.js';
import { makeDistance } from '../../../src/ml/distances/index.js';

test('each distance gives its matrix; margin points "farther" for distances and similarities alike', () => {
  const x = tensor(
    [
      [3, 4],
      [0, 2],
    ],
    { dtype: 'float64' },
  );
  const m = (name: 'euclidean' | 'squared-euclidean' | 'cosine' | 'dot'): number[][] =>
    makeDistance({ name }, { name: 'euclidean' }).matrix(x).tolist() as number[][];
  const close = (a: number[][], b: number[][]): void =>
    a.forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-12, `${v} vs ${b[i]![j]}`)));
  close(m('euclidean'), [
    [0, Math.sqrt(13)],
    [Math.sqrt(13), 0],
  ]);
  close(m('squared-euclidean'), [
    [0, 13],
    [13, 0],
  ]);
  close(m('dot'), [
    [25, 8],
    [8, 4],
  ]);
  close(m('cosine'), [
    [1, 0.8],
    [0.8, 1],
  ]);
  const d = tensor([2], { dtype: 'float64' });
  assert.equal(makeDistance('euclidean', { name: 'euclidean' }).margin(d, 1).item(), 1);
  assert.equal(makeDistance('cosine', { name: 'euclidean' }).margin(d, 1).item(), -1);
  assert.throws(() => makeDistance({ name: 'cosine', normalize: false }, { name: 'euclidean' }), /always normalizes/);
});

test('a distance given by name (as a config file gives it) is built like its spec; other values are refused', () => {
  const byName = createLoss('triplet', { distance: 'cosine' } as never) as TripletMarginLoss;
  assert.equal(byName.distance.name, 'cosine');
  const euclid = createLoss('triplet', { distance: 'euclidean', smooth: true } as never) as TripletMarginLoss;
  assert.deepEqual([euclid.distance.name, euclid.distance.normalize, euclid.smooth], ['euclidean', false, true]);
  assert.throws(
    () => createLoss('triplet', { distance: 3 } as never),
    /distance must be a name \(euclidean \| squared-euclidean \| cosine \| dot \| snr\), a spec or a Distance object/,
  );
  assert.throws(() => createLoss('triplet', { distance: 'manhattan' } as never), /unknown distance 'manhattan'/);
  assert.throws(() => createLoss('triplet', { smooth: 'yes' } as never), /smooth must be true or false/);
});
