// Miners: how many tuples each keeps, how their selections relate, and the defining property of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, normalize, randn, type Tensor } from '../../../src/engine/index.js';
import { CosineSimilarity, EuclideanDistance } from '../../../src/ml/distances/index.js';
import { LossInputError } from '../../../src/ml/losses/index.js';
import { allTriplets } from '../../../src/ml/utils/tuples.js';
import { BatchHardMiner, MultiSimilarityMiner, TripletMarginMiner } from '../../../src/ml/miners/index.js';
import { labelsOf, tupleSet } from '../losses/helpers.js';

const LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 3, 4];

function dists(x: Tensor): number[][] {
  return new EuclideanDistance({ normalize: true }).matrix(x).tolist() as number[][];
}

test('TripletMarginMiner: hard ∪ semihard = all, all ∪ easy = every triplet, and each keeps what it says', () => {
  const x = randn([10, 3], { dtype: 'float64', generator: new Generator(7) });
  const y = labelsOf(LABELS);
  const m = 0.3;
  const get = (type: 'all' | 'hard' | 'semihard' | 'easy'): string[] =>
    tupleSet(new TripletMarginMiner({ margin: m, type }).mine(x, y)).pos;
  const [all, hard, semi, easy] = [get('all'), get('hard'), get('semihard'), get('easy')];
  assert.deepEqual([...hard, ...semi].sort(), all);
  assert.deepEqual([...all, ...easy].sort(), tupleSet(allTriplets(LABELS)).pos);
  assert.ok(
    hard.length > 0 && semi.length > 0 && easy.length > 0,
    `${hard.length} hard, ${semi.length} semihard, ${easy.length} easy`,
  );
  const d = dists(x);
  for (const s of semi) {
    const [a, p, n] = s.split(',').map(Number) as [number, number, number];
    const t = d[a]![n]! - d[a]![p]!;
    assert.ok(t > 0 && t <= m, `semihard ${s}: ${t}`);
  }
});

test('BatchHardMiner: per anchor, the farthest positive and the closest negative', () => {
  const x = randn([10, 3], { dtype: 'float64', generator: new Generator(8) });
  const t = new BatchHardMiner().mine(x, labelsOf(LABELS));
  assert.deepEqual(t.a, [0, 1, 2, 3, 4, 5, 6, 7], 'anchors with a positive (classes 3, 4 are singletons)');
  const d = dists(x);
  t.a.forEach((a, k) => {
    for (let j = 0; j < 10; j++) {
      if (j === a) continue;
      if (LABELS[j] === LABELS[a]) assert.ok(d[a]![j]! <= d[a]![t.p[k]!]!, `anchor ${a}: positive ${j} farther`);
      else assert.ok(d[a]![j]! >= d[a]![t.n[k]!]!, `anchor ${a}: negative ${j} closer`);
    }
  });
});

test('on normalised embeddings, batch-hard by cosine and by Euclidean distance agree (d² = 2 - 2 cos)', () => {
  const x = normalize(randn([10, 4], { dtype: 'float64', generator: new Generator(9) }));
  const y = labelsOf(LABELS);
  const byL2 = new BatchHardMiner({ distance: new EuclideanDistance() }).mine(x, y);
  const byCos = new BatchHardMiner({ distance: new CosineSimilarity() }).mine(x, y);
  assert.deepEqual(byCos, byL2);
  const semiL2 = new TripletMarginMiner({ type: 'hard', margin: 0, distance: { name: 'squared-euclidean' } }).mine(
    x,
    y,
  );
  const semiCos = new TripletMarginMiner({ type: 'hard', margin: 0, distance: { name: 'cosine' } }).mine(x, y);
  assert.deepEqual(tupleSet(semiCos), tupleSet(semiL2));
});

test('MultiSimilarityMiner: a larger ε keeps more pairs, and kept pairs satisfy the rule', () => {
  const x = randn([10, 4], { dtype: 'float64', generator: new Generator(10) });
  const y = labelsOf(LABELS);
  const small = new MultiSimilarityMiner({ epsilon: 0.05 }).mine(x, y);
  const large = new MultiSimilarityMiner({ epsilon: 1 }).mine(x, y);
  assert.ok(small.a1.length <= large.a1.length && small.a2.length <= large.a2.length);
  const s = new CosineSimilarity().matrix(x).tolist() as number[][];
  small.a1.forEach((a, k) => {
    const maxNeg = Math.max(...s[a]!.filter((_, j) => LABELS[j] !== LABELS[a]));
    assert.ok(s[a]![small.p[k]!]! - 0.05 < maxNeg);
  });
  const none = new MultiSimilarityMiner().mine(x, labelsOf([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(none.a1.length + none.a2.length, 0, 'no negatives: nothing mined');
});

test('miners validate their inputs', () => {
  const m = new BatchHardMiner();
  assert.throws(
    () => m.mine(randn([3, 2]), labelsOf([0, 1])),
    (e: unknown) =>
      e instanceof LossInputError && /BatchHardMiner: labels has length 2 but the batch has 3 rows/.test(e.message),
  );
  assert.throws(
    () => new TripletMarginMiner().mine(randn([3]), labelsOf([0, 1, 2])),
    /TripletMarginMiner: embeddings must be a 2-D tensor/,
  );
  assert.throws(
    () => new TripletMarginMiner({ type: 'random' as 'all' }),
    /type must be all \| hard \| semihard \| easy/,
  );
});
