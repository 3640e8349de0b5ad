// Building blocks and plumbing: index builders, miners (counts, set relations, and the defining
// property of each selection), losses as nn.Modules (learnable tables in stateDict under
// PyTorch-style keys, trained by an optimiser) and the name registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, normalize, optim, randn, tidy, type Tensor } from '../../../src/engine/index.js';
import {
  allPairs,
  allTriplets,
  toPairs,
  toTriplets,
  LossInputError,
  EuclideanDistance,
  CosineSimilarity,
  ArcFaceLoss,
  CenterLoss,
  CosFaceLoss,
  createLoss,
  LOSS_NAMES,
  MarginLoss,
  NormSoftmaxLoss,
  ProxyAnchorLoss,
  ProxyNCALoss,
  TripletMarginLoss,
  InfoNCELoss,
  asTrainLoss,
} from '../../../src/ml/losses/index.js';
import type { TrainLoss } from '../../../src/ml/train/trainer.js';
import { BatchHardMiner, MultiSimilarityMiner, TripletMarginMiner } from '../../../src/ml/miners/index.js';
import { labelsOf, tupleSet } from './helpers.js';

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

const C = 4,
  D = 3;

test('learnable tables are parameters with PyTorch-style keys and shapes', () => {
  const o = { numClasses: C, embeddingSize: D };
  const cases: [{ stateDict(): Map<string, { shape: number[] }>; parameters(): unknown[] }, string, number[]][] = [
    [new NormSoftmaxLoss(o), 'weight', [C, D]],
    [new CosFaceLoss(o), 'weight', [C, D]],
    [new ArcFaceLoss(o), 'weight', [C, D]],
    [new ProxyNCALoss(o), 'proxies', [C, D]],
    [new ProxyAnchorLoss(o), 'proxies', [C, D]],
    [new CenterLoss(o), 'centers', [C, D]],
    [new MarginLoss(), 'beta', [1]],
    [new MarginLoss({ numClasses: C }), 'beta', [C]],
  ];
  for (const [l, key, shape] of cases) {
    const sd = l.stateDict();
    assert.deepEqual([...sd.keys()], [key]);
    assert.deepEqual(sd.get(key)!.shape, shape);
    assert.equal(l.parameters().length, 1);
  }
  const fixedBeta = new MarginLoss({ learnBeta: false });
  assert.equal(fixedBeta.parameters().length, 0, 'a fixed β is a buffer');
  assert.deepEqual([...fixedBeta.stateDict().keys()], ['beta']);
  assert.equal(new TripletMarginLoss().stateDict().size, 0);
});

test('the seed option makes the table initialisation reproducible', () => {
  const a = new ProxyNCALoss({ numClasses: C, embeddingSize: D, seed: 11 }).table.dataNumbers();
  const b = new ProxyNCALoss({ numClasses: C, embeddingSize: D, seed: 11 }).table.dataNumbers();
  const c = new ProxyNCALoss({ numClasses: C, embeddingSize: D, seed: 12 }).table.dataNumbers();
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('an optimiser trains the proxies (and β) together with the embeddings', () => {
  for (const make of [
    () => new ProxyAnchorLoss({ numClasses: C, embeddingSize: D, seed: 1 }),
    () => new MarginLoss({ numClasses: C }),
  ]) {
    const loss = make();
    const g = new Generator(3);
    const x = randn([8, D], { generator: g }).requiresGrad_(true);
    const y = labelsOf([0, 0, 1, 1, 2, 2, 3, 3]);
    const table0 = loss.parameters()[0]!.dataNumbers();
    const opt = new optim.SGD([x, ...loss.parameters()], { lr: 0.05 });
    const first = tidy(() => loss.forward(x, y).item());
    let last = first;
    for (let i = 0; i < 30; i++) {
      last = tidy(() => {
        opt.zeroGrad();
        const l = loss.forward(x, y);
        l.backward();
        opt.step();
        return l.item();
      });
    }
    assert.ok(last < first, `${loss.name}: loss ${first} → ${last}`);
    assert.notDeepEqual(loss.parameters()[0]!.dataNumbers(), table0, `${loss.name}: table moved`);
    const sd = loss.stateDict();
    const fresh = make();
    fresh.loadStateDict(sd);
    assert.deepEqual(
      fresh.parameters()[0]!.dataNumbers(),
      loss.parameters()[0]!.dataNumbers(),
      'round-trips through stateDict',
    );
  }
});

test('the registry knows every loss, and kinds are declared for the trainer', () => {
  assert.deepEqual(LOSS_NAMES, [
    'cross-entropy',
    'smooth-ce',
    'norm-softmax',
    'cosface',
    'arcface',
    'proxy-nca',
    'proxy-anchor',
    'center',
    'contrastive',
    'triplet',
    'multi-similarity',
    'lifted-structure',
    'n-pairs',
    'nt-xent',
    'infonce',
    'margin',
    'pce',
    'angular',
    'circle',
    'dynamic-soft-margin',
    'fast-ap',
    'histogram',
    'instance',
    'intra-pair-variance',
    'large-margin-softmax',
    'manifold',
    'nca',
    'p2s-grad',
    'pnp',
    'ranked-list',
    'snr-contrastive',
    'soft-triple',
    'sphereface',
    'subcenter-arcface',
    'supcon',
    'tcm',
    'tuplet-margin',
    'generalized-lifted-structure',
    'smooth-ap',
  ]);
  assert.equal(createLoss('smooth-ce').input, 'logits');
  assert.equal(createLoss('smooth-ce').epsilon, 0.1, "the paper's ε");
  assert.equal(createLoss('triplet', { mining: 'hard' }).pairwise, true);
  assert.equal(createLoss('proxy-nca', { numClasses: C, embeddingSize: D }).pairwise, false);
  assert.ok(createLoss('infonce') instanceof InfoNCELoss);
  assert.equal(createLoss('infonce').name, 'InfoNCELoss');
});

test('asTrainLoss fits the trainer: logits for CE, features otherwise, tables as its module', () => {
  const out = { logits: randn([6, C]), features: randn([6, D]) };
  const y = labelsOf([0, 0, 1, 1, 2, 3]);
  const ce: TrainLoss = asTrainLoss(createLoss('smooth-ce'));
  assert.equal(ce.pairwise, false);
  assert.equal(ce.module, undefined);
  assert.equal(ce.compute(out, y).item(), createLoss('smooth-ce').forward(out.logits, y).item());
  const proxy = createLoss('proxy-anchor', { numClasses: C, embeddingSize: D });
  const pa: TrainLoss = asTrainLoss(proxy);
  assert.equal(pa.module, proxy);
  assert.equal(pa.compute(out, y).item(), proxy.forward(out.features, y).item());
  const tri: TrainLoss = asTrainLoss(createLoss('triplet', { mining: 'semihard' }));
  assert.equal(tri.pairwise, true);
  assert.ok(Number.isFinite(tri.compute(out, y).item()));
});
