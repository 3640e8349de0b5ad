// Channels-last: the same values in NHWC strides, and a network run in that layout gives the NCHW
// results (float tolerance: the kernels sum in another order) with its activations kept channels-last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, tidy, noGrad } from '../../src/engine/index.js';
import { ResNetEmbedder } from '../../src/ml/models/resnet.js';

test('contiguous(channelsLast) keeps shape and values, changes strides', () => {
  tidy(() => {
    const x = randn([2, 3, 5, 4]);
    const cl = x.contiguous('channelsLast');
    assert.deepEqual(cl.shape, [2, 3, 5, 4]);
    assert.equal(cl.isContiguous('channelsLast'), true);
    assert.equal(cl.isContiguous(), false);
    assert.equal(x.isContiguous('channelsLast'), false);
    assert.deepEqual(cl.dataNumbers(), x.dataNumbers(), 'data() reads the logical (NCHW) order');
    assert.equal(cl.contiguous('contiguousFormat').isContiguous(), true);
  });
});

test('a ResNet in channels-last gives the NCHW features and gradients', () => {
  manualSeed(5);
  const a = new ResNetEmbedder({ arch: 'resnet18', numClasses: 4, numFeatures: 16 });
  const b = new ResNetEmbedder({ arch: 'resnet18', numClasses: 4, numFeatures: 16 });
  try {
    b.loadStateDict(a.stateDict());
    b.toMemoryFormat('channelsLast');
    assert.ok(b.conv1.weight.isContiguous('channelsLast'));
    const x = randn([2, 3, 64, 64]);
    const fa = noGrad(() => a.forward(x)),
      fb = noGrad(() => b.forward(x.contiguous('channelsLast')));
    const d = tidy(() => fa.features.sub(fb.features).abs().max().item() / fa.features.abs().max().item());
    assert.ok(d < 1e-5, `relative difference ${d}`);
    const g = (m: ResNetEmbedder, input: typeof x): number[] =>
      tidy(() => {
        const out = m.forward(input);
        out.features.square().sum().backward();
        return m.conv1.weight.grad!.dataNumbers();
      });
    const ga = g(a, x),
      gb = g(b, x.contiguous('channelsLast'));
    const scale = Math.max(...ga.map(Math.abs));
    assert.ok(
      ga.every((v, i) => Math.abs(v - gb[i]!) <= 1e-4 * scale),
      'conv1 gradients agree',
    );
    x.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
});

test(
  'model.memoryFormat=channelsLast trains and its checkpoint evaluates like the NCHW run',
  { timeout: 180_000 },
  async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = (await import('node:path')).default;
    const { fileURLToPath } = await import('node:url');
    const { writeSyntheticIdx } = await import('../ml/data/synthetic-idx.js');
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
    const root = mkdtempSync(path.join(tmpdir(), 'dml-cl-'));
    writeSyntheticIdx(path.join(root, 'data'), 16, 6, 12);
    const runs: Record<string, number> = {};
    for (const fmt of ['contiguousFormat', 'channelsLast']) {
      const r = spawnSync(
        process.execPath,
        [
          cli,
          'train',
          `data.root=${path.join(root, 'data')}`,
          'model.arch=resnet18',
          'model.smallInput=true',
          'model.numFeatures=16',
          'batchSize=16',
          'epochs=1',
          'threads=1',
          `model.memoryFormat=${fmt}`,
          `out=${path.join(root, fmt)}`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const e = spawnSync(process.execPath, [cli, 'eval', '--checkpoint', path.join(root, fmt), '--json'], {
        encoding: 'utf8',
      });
      assert.equal(e.status, 0, e.stderr);
      runs[fmt] = (
        JSON.parse(e.stdout.trim().split('\n').pop()!) as { recall: { cosine: Record<string, number> } }
      ).recall.cosine['1']!;
    }
    // One epoch of the same batches: tiny float differences may move a rank, not the whole result.
    assert.ok(Math.abs(runs.contiguousFormat! - runs.channelsLast!) <= 10, JSON.stringify(runs));
  },
);

test('model.memoryFormat=auto: channels-last for bottleneck ResNets at 128 px and up, NCHW otherwise', async () => {
  const { resolveMemoryFormat } = await import('../../src/ml/run/model-spec.js');
  const { AUTO_CHANNELS_LAST_MIN_SIDE } = await import('../../src/ml/models/resnet-family.js');
  const auto = 'auto' as const;
  assert.equal(resolveMemoryFormat({ arch: 'resnet50', memoryFormat: auto }, 224), 'channelsLast');
  assert.equal(resolveMemoryFormat({ arch: 'resnext50_32x4d', memoryFormat: auto }, 128), 'channelsLast');
  assert.equal(
    resolveMemoryFormat({ arch: 'resnet101', memoryFormat: auto }, AUTO_CHANNELS_LAST_MIN_SIDE - 1),
    'contiguousFormat',
  );
  assert.equal(resolveMemoryFormat({ arch: 'resnet18', memoryFormat: auto }, 224), 'contiguousFormat');
  assert.equal(resolveMemoryFormat({ arch: 'vit_small_patch16', memoryFormat: auto }, 224), 'contiguousFormat');
  // An explicit choice is kept whatever the model.
  assert.equal(resolveMemoryFormat({ arch: 'resnet50', memoryFormat: 'contiguousFormat' }, 224), 'contiguousFormat');
  assert.equal(resolveMemoryFormat({ arch: 'resnet18', memoryFormat: 'channelsLast' }, 28), 'channelsLast');
});
