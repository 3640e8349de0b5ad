// torchvision compatibility of the backbone's state dict: for every architecture the backbone keys
// are torchvision's model.state_dict() keys minus fc.*, in the same order, with the same shapes and
// dtypes (keys.json, written by scripts/fixtures/make_model_fixtures.py from torchvision itself), so
// ImageNet checkpoints load 1:1 with strict=false reporting only fc.* as unexpected. Each model
// built here is also checked for zeroInitResidual and the shapes forward returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  dispose,
  liveTensors,
  noGrad,
  rand,
  randn,
  tidy,
  full,
  type DType,
  type Tensor,
} from '../../../src/engine/index.js';
import { ARCHS, ResNetEmbedder, type Arch } from '../../../src/ml/models/index.js';
import { fixturePath } from './helpers.js';

type KeyEntry = [key: string, shape: number[], dtype: DType];
const FIXTURE = JSON.parse(readFileSync(fixturePath('keys.json'), 'utf8')) as {
  torchvision: string;
  archs: Record<Arch, KeyEntry[]>;
};
const HEAD = /^(norm_layer|remap|classifier)\./;
const isBackbone = (k: string): boolean => !HEAD.test(k) && k !== 'mean' && k !== 'std';

test('keys.json covers every architecture of ARCHS', () => {
  assert.deepEqual(Object.keys(FIXTURE.archs).sort(), Object.keys(ARCHS).sort());
});

for (const arch of Object.keys(ARCHS) as (keyof typeof ARCHS)[]) {
  test(`${arch}: backbone keys, order, shapes and dtypes equal torchvision ${FIXTURE.torchvision}'s minus fc.*`, () => {
    const before = liveTensors();
    const model = new ResNetEmbedder({ arch, numClasses: 7 });
    const sd = model.stateDict();
    const ours = [...sd].filter(([k]) => isBackbone(k)).map(([k, v]): KeyEntry => [k, v.shape, v.dtype]);
    const tv = FIXTURE.archs[arch].filter(([k]) => !k.startsWith('fc.'));
    assert.equal(FIXTURE.archs[arch].length - tv.length, 2, 'torchvision has fc.weight and fc.bias');
    assert.deepEqual(
      ours.map(([k]) => k),
      tv.map(([k]) => k),
      'same keys in the same order',
    );
    assert.deepEqual(ours, tv, 'same shapes and dtypes');
    // Everything else is the head and the input normalisation.
    assert.deepEqual(
      [...sd.keys()].filter((k) => !isBackbone(k)),
      ['mean', 'std', 'classifier.weight', 'classifier.bias'],
    );
    assert.equal(
      model.backboneFeatures,
      FIXTURE.archs[arch].find(([k]) => k === 'fc.weight')![1][1],
      'backbone width = fc input',
    );
    // zeroInitResidual (default): the last BN of every residual branch starts at zero, no other.
    const last = ARCHS[arch].block === 'basic' ? /^layer\d\.\d+\.bn2\.weight$/ : /^layer\d\.\d+\.bn3\.weight$/;
    const blocks = ARCHS[arch].layers.reduce((a, b) => a + b, 0);
    const bnWeights = [...sd].filter(([k]) => /bn\d\.weight$|downsample\.1\.weight$/.test(k));
    assert.equal(bnWeights.filter(([k]) => last.test(k)).length, blocks);
    for (const [k, w] of bnWeights)
      assert.ok(
        w.dataNumbers().every((v) => v === (last.test(k) ? 0 : 1)),
        `${k} = ${last.test(k) ? 0 : 1}`,
      );
    // forward: { logits [N, C], features [N, backbone width] }.
    model.eval();
    tidy(() => {
      const out = noGrad(() => model.forward(rand([2, 3, 32, 32])));
      assert.deepEqual(out.logits.shape, [2, 7]);
      assert.deepEqual(out.features.shape, [2, model.backboneFeatures]);
    });
    dispose(sd);
    model.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });
}

/** A dict shaped like torchvision's resnet18 state_dict() (fc.* included), with random values. */
function torchvisionLike(arch: Arch): Map<string, Tensor> {
  return new Map(
    FIXTURE.archs[arch].map(([k, shape, dtype]) => [k, dtype === 'int64' ? full(shape, 3, 'int64') : randn(shape)]),
  );
}

test(
  'a torchvision-shaped state dict loads with strict=false: fc.* unexpected, the head missing, the backbone ' +
    'copied',
  () => {
    const before = liveTensors();
    tidy(() => {
      const tv = torchvisionLike('resnet18');
      for (const o of [{}, { normLayer: 'batch' as const, numFeatures: 64 }]) {
        const model = new ResNetEmbedder({ arch: 'resnet18', numClasses: 5, ...o });
        assert.throws(() => model.loadStateDict(tv), /unexpected keys \[fc\.weight, fc\.bias\]/, 'strict refuses fc.*');
        const r = model.loadStateDict(tv, false);
        assert.deepEqual(r.unexpectedKeys, ['fc.weight', 'fc.bias']);
        const head = o.normLayer
          ? [
              'norm_layer.running_mean',
              'norm_layer.running_var',
              'norm_layer.num_batches_tracked',
              'remap.weight',
              'remap.bias',
            ]
          : [];
        assert.deepEqual(r.missingKeys.sort(), ['mean', 'std', 'classifier.weight', 'classifier.bias', ...head].sort());
        const own = model.stateDict();
        for (const k of [
          'conv1.weight',
          'bn1.running_var',
          'layer1.0.conv2.weight',
          'layer2.0.downsample.0.weight',
          'layer2.0.downsample.1.bias',
          'layer4.1.bn2.weight',
          'layer3.1.bn1.num_batches_tracked',
        ]) {
          assert.deepEqual(own.get(k)!.dataNumbers(), tv.get(k)!.dataNumbers(), `${k} copied`);
        }
        // The classifier keeps its zero init: fc's values went nowhere.
        assert.equal(own.get('classifier.weight')!.abs().max().item(), 0);
        // A torchvision ImageNet stem does not fit the small-input stem: refused, naming the key.
        const small = new ResNetEmbedder({ arch: 'resnet18', numClasses: 5, smallInput: true, inChannels: 1, ...o });
        assert.throws(
          () => small.loadStateDict(tv, false),
          /shape mismatch for 'conv1\.weight': module has \[64,1,3,3\], state dict has \[64,3,7,7\]/,
        );
        model.dispose();
        small.dispose();
      }
    });
    assert.equal(liveTensors(), before, 'no tensor leaked');
  },
);
