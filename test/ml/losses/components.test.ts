// Losses as nn.Modules (learnable tables in stateDict under PyTorch-style keys, trained by an
// optimiser), the name registry and the trainer's adapter. Miners and tuple builders are tested in
// test/ml/miners and test/ml/utils.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, optim, randn, tidy } from '../../../src/engine/index.js';
import {
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
import type { TrainLoss } from '../../../src/ml/train/types.js';
import { labelsOf } from './helpers.js';

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
