// ResNetEmbedder behaviour the reference relies on: set_bn_eval keeps every BatchNorm2d in eval
// mode under train(), the last BN of each residual branch starts at zero, the classifier starts at
// zero, and forward returns { logits [N, C], features [N, F] }. keys.test.ts checks the zeroed
// residual BNs and the output shapes of every architecture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nn, liveTensors, noGrad, rand, tidy, type Tensor } from '../../../src/engine/index.js';
import { BasicBlock, Bottleneck, ResNetEmbedder, type EmbedderOptions } from '../../../src/ml/models/index.js';
import { maxAbsDiff } from './helpers.js';

// Small-input resnet18 on 8x8 single-channel images: the same module tree, a cheap forward.
const tiny = (o: Partial<EmbedderOptions> = {}): ResNetEmbedder =>
  new ResNetEmbedder({ arch: 'resnet18', numClasses: 3, smallInput: true, inChannels: 1, ...o });
const bn2ds = (m: ResNetEmbedder): [string, nn.BatchNorm2d][] =>
  [...m.namedModules()].filter((e): e is [string, nn.BatchNorm2d] => e[1] instanceof nn.BatchNorm2d);
const allOf = (t: Tensor, v: number): boolean => t.dataNumbers().every((x) => x === v);

function withModel(make: () => ResNetEmbedder, fn: (m: ResNetEmbedder) => void): void {
  const before = liveTensors();
  const m = make();
  tidy(() => fn(m));
  m.dispose();
  assert.equal(liveTensors(), before, 'no tensor leaked');
}

test('setBnEval: train() keeps every BatchNorm2d in eval mode; the head and dropout still train', () => {
  withModel(
    () => tiny({ setBnEval: true, normLayer: 'batch', dropout: 0.2 }),
    (m) => {
      const bns = bn2ds(m);
      assert.equal(bns.length, 1 + 2 * 4 * 2 + 3, 'stem + two per block + three downsample BNs');
      for (const mode of [true, false, true]) {
        m.train(mode);
        assert.equal(m.training, mode);
        for (const [k, bn] of bns) assert.equal(bn.training, false, `${k} stays in eval mode`);
        assert.equal(m.norm.training, mode, 'norm_layer (BatchNorm1d) follows the mode');
        assert.equal(m.dropout.training, mode);
        assert.equal(m.classifier.training, mode);
      }
      m.eval();
      for (const [, mod] of m.namedModules()) assert.equal(mod.training, false);

      // In effect: a train-mode pass uses and keeps the running statistics of every BatchNorm2d.
      const x = rand([4, 1, 8, 8]);
      const evalFeatures = noGrad(() => m.backbone(x));
      m.train();
      const out = m.forward(x);
      const trainFeatures = m.backbone(x);
      assert.equal(maxAbsDiff(trainFeatures, evalFeatures), 0, 'backbone identical in train and eval mode');
      const sd = m.stateDict();
      for (const [k, bn] of bns) {
        assert.equal(sd.get(`${k}.num_batches_tracked`)!.item(), 0, `${k} saw no batch`);
        assert.ok(allOf(bn.runningMean!, 0) && allOf(bn.runningVar!, 1), `${k} statistics untouched`);
      }
      assert.equal(sd.get('norm_layer.num_batches_tracked')!.item(), 1, 'the norm layer does train');
      assert.deepEqual(out.features.shape, [4, 512]);
    },
  );
});

test('without setBnEval, train() puts BatchNorm2d in train mode and a pass updates its statistics', () => {
  withModel(
    () => tiny({ setBnEval: false, zeroInitResidual: false }),
    (m) => {
      m.train();
      for (const [k, bn] of bn2ds(m)) assert.equal(bn.training, true, k);
      const x = rand([4, 1, 8, 8]);
      m.forward(x);
      const sd = m.stateDict();
      for (const [k] of bn2ds(m)) assert.equal(sd.get(`${k}.num_batches_tracked`)!.item(), 1, k);
      assert.ok(!allOf(m.bn1.runningMean!, 0), 'stem statistics moved');
      // zeroInitResidual: false leaves every BN weight at one.
      for (const [k, w] of bnWeights(m).last) assert.ok(allOf(w, 1), `${k}.weight = 1 without zeroInitResidual`);
    },
  );
});

/** BN weights by role: the last BN of each residual branch, and every other BatchNorm2d. */
function bnWeights(m: ResNetEmbedder): { last: [string, Tensor][]; others: [string, Tensor][] } {
  const lastBns = new Set<nn.Module<never[], unknown>>();
  for (const layer of m.layers)
    for (const b of layer.layers) {
      assert.ok(b instanceof BasicBlock || b instanceof Bottleneck);
      lastBns.add(b instanceof BasicBlock ? b.bn2 : b.bn3);
    }
  const last: [string, Tensor][] = [],
    others: [string, Tensor][] = [];
  for (const [k, bn] of bn2ds(m)) (lastBns.has(bn) ? last : others).push([k, bn.weight!]);
  return { last, others };
}

test(
  'default init (resnet18): bn2 of every BasicBlock zeroed, torchvision conv init, zero classifier and ' + 'logits',
  () => {
    withModel(
      () => tiny({ numClasses: 7 }),
      (m) => {
        const { last, others } = bnWeights(m);
        assert.equal(last.length, 8);
        for (const [k, w] of last) {
          assert.match(k, /^layer\d\.\d\.bn2$/);
          assert.ok(allOf(w, 0), `${k}.weight = 0`);
        }
        for (const [k, w] of others) assert.ok(allOf(w, 1), `${k}.weight = 1`);
        for (const [k, bn] of bn2ds(m)) assert.ok(allOf(bn.bias!, 0), `${k}.bias = 0`);
        // torchvision's kaiming_normal_(mode='fan_out', nonlinearity='relu'): std sqrt(2 / fan_out).
        const w = m.layers[2]!.layers[0]!.child('conv2')!.param('weight')!;
        const std = w.std().item(),
          want = Math.sqrt(2 / (256 * 9));
        assert.ok(Math.abs(std / want - 1) < 0.02, `layer3.0.conv2: std ${std} vs ${want}`);
        assert.ok(Math.abs(w.mean().item()) < 0.02 * want, 'layer3.0.conv2: zero mean');
        // The classifier starts at zero, so do the logits.
        assert.ok(m.remap instanceof nn.Identity, 'no remap at the backbone width');
        assert.ok(allOf(m.classifier.weight, 0) && allOf(m.classifier.bias!, 0), 'classifier weight and bias = 0');
        m.eval();
        const out = noGrad(() => m.forward(rand([3, 1, 8, 8])));
        assert.deepEqual(Object.keys(out).sort(), ['features', 'logits']);
        assert.deepEqual(out.logits.shape, [3, 7]);
        assert.deepEqual(out.features.shape, [3, 512]);
        assert.ok(allOf(out.logits, 0), 'logits = 0 at init');
        assert.ok(!allOf(out.features, 0));
      },
    );
  },
);

test('forward returns logits [N, C] and features [N, F] for each head shape; the remap bias starts at zero', () => {
  const cases: [Partial<EmbedderOptions>, number, string][] = [
    [{ numFeatures: 64, normLayer: 'layer' }, 64, 'numFeatures != 512 adds a remap'],
    [{ remap: true }, 512, 'remap at the same width'],
    [
      { numFeatures: 16, normalize: true, normLayer: 'batch', normalizeWeight: true, detach: true, dropout: 0.5 },
      16,
      'every option',
    ],
  ];
  for (const [o, f, what] of cases) {
    withModel(
      () => tiny({ numClasses: 7, ...o }),
      (m) => {
        assert.ok(m.remap instanceof nn.Linear, `${what}: remap is a Linear`);
        assert.deepEqual(m.remap.weight.shape, [f, 512]);
        assert.ok(allOf(m.remap.bias!, 0), 'remap bias = 0');
        assert.ok(!allOf(m.remap.weight, 0), 'remap weight keeps the Linear default init');
        assert.deepEqual(m.classifier.weight.shape, [7, f]);
        assert.ok(allOf(m.classifier.weight, 0) && allOf(m.classifier.bias!, 0), 'classifier = 0');
        for (const train of [true, false]) {
          m.train(train);
          const out = m.forward(rand([5, 1, 8, 8]));
          assert.deepEqual(out.logits.shape, [5, 7], `${what}: logits`);
          assert.deepEqual(out.features.shape, [5, f], `${what}: features`);
          if (o.normalize)
            for (const n of out.features.norm(2, 1).dataNumbers())
              assert.ok(Math.abs(n - 1) < 1e-5, `${what}: unit features`);
        }
      },
    );
  }
});
