// Tuple builders: every pair and triplet of a batch from its labels, and conversions between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPairs, allTriplets, toPairs, toTriplets } from '../../../src/ml/utils/tuples.js';
import { tupleSet } from '../losses/helpers.js';

const LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 3, 4];

test('allPairs and allTriplets: counts from the class sizes', () => {
  const sizes = [3, 3, 2, 1, 1],
    n = 10;
  const p = allPairs(LABELS);
  assert.equal(
    p.a1.length,
    sizes.reduce((a, s) => a + s * (s - 1), 0),
  );
  assert.equal(p.a2.length, n * n - sizes.reduce((a, s) => a + s * s, 0));
  const t = allTriplets(LABELS);
  assert.equal(
    t.a.length,
    sizes.reduce((a, s) => a + s * (s - 1) * (n - s), 0),
  );
  assert.equal(allTriplets([0, 0, 0]).a.length, 0, 'one class: no triplet');
  assert.equal(allTriplets([0, 1, 2]).a.length, 0, 'singletons: no triplet');
  assert.equal(allPairs([5]).a1.length + allPairs([5]).a2.length, 0);
});

test('toPairs / toTriplets convert between tuple kinds', () => {
  const t = allTriplets(LABELS);
  const p = toPairs(t, LABELS);
  assert.equal(p.a1.length, t.a.length);
  // Joining all pairs on their anchor gives back all triplets.
  assert.deepEqual(tupleSet(toTriplets(allPairs(LABELS), LABELS)), tupleSet(t));
  assert.deepEqual(toTriplets({ kind: 'pairs', a1: [0], p: [1], a2: [1, 0, 0], n: [3, 4, 9] }, LABELS), {
    kind: 'triplets',
    a: [0, 0],
    p: [1, 1],
    n: [4, 9],
  });
});
