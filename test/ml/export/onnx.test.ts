// ONNX export checked against onnxruntime: the exported graph (BatchNorms folded, normalisation in
// the graph, dynamic batch) must reproduce the libtorch eval-mode features to 1e-4 (max abs).
// The BNs are put in a random, non-identity state first: with fresh BNs (mean 0, var 1, γ 1, β 0)
// folding would be almost a no-op and a wrong fold could pass unnoticed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type Tensor, nn, noGrad, rand, randn, manualSeed, tidy } from '../../../src/engine/index.js';
import { ResNetEmbedder, type EmbedderOptions } from '../../../src/ml/models/index.js';
import { exportOnnx, saveOnnx } from '../../../src/ml/export/index.js';
import { readFields, asInt64 } from '../../../src/ml/export/protobuf.js';

/** Random running stats and affine parameters in every BatchNorm2d; the head BN1d calibrated on x. */
function randomiseBns(model: ResNetEmbedder, x: Tensor): void {
  noGrad(() =>
    tidy(() => {
      for (const [, m] of model.namedModules()) {
        if (!(m instanceof nn.BatchNorm2d)) continue;
        const c = m.numFeatures;
        m.runningMean!.copy_(randn([c]).mul(0.2));
        m.runningVar!.copy_(rand([c]).mul(1.5).add(0.5));
        m.weight!.copy_(rand([c]).mul(0.8).add(0.4));
        m.bias!.copy_(randn([c]).mul(0.2));
      }
      if (model.norm instanceof nn.BatchNorm1d) {
        // Scaled to the real features (so the output stays O(1)) but not equal to their statistics.
        // Not the batch variance: on random weights and noise images every image gives nearly the
        // same features, and 1/√(tiny variance) would only magnify float32 noise.
        model.eval();
        const f = model.backbone(x);
        const ms = f.square().mean();
        model.norm.runningMean!.copy_(f.mean(0).add(randn([f.shape[1]!]).mul(ms.sqrt()).mul(0.2)));
        model.norm.runningVar!.copy_(rand([f.shape[1]!]).mul(1.5).add(0.5).mul(ms));
      }
    }),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Op types, graph input dims and output names of a serialized model, read back with the wire reader. */
function inspect(bytes: Uint8Array): {
  ops: string[];
  inputDims: (number | string)[];
  outputs: string[];
  opset: number;
} {
  const dec = new TextDecoder();
  const top = readFields(bytes);
  const graph = readFields(top.find((f) => f.field === 7)!.bytes!);
  const opsetField = readFields(top.find((f) => f.field === 8)!.bytes!);
  const ops = graph
    .filter((f) => f.field === 1)
    .map((n) => dec.decode(readFields(n.bytes!).find((f) => f.field === 4)!.bytes!));
  const valueName = (v: Uint8Array): string => dec.decode(readFields(v).find((f) => f.field === 1)!.bytes!);
  const input = readFields(graph.find((f) => f.field === 11)!.bytes!);
  const tensorType = readFields(readFields(input.find((f) => f.field === 2)!.bytes!)[0]!.bytes!);
  const shape = readFields(tensorType.find((f) => f.field === 2)!.bytes!);
  const inputDims = shape.map((d) => {
    const f = readFields(d.bytes!)[0]!;
    return f.field === 1 ? asInt64(f.varint!) : dec.decode(f.bytes!);
  });
  const outputs = graph.filter((f) => f.field === 12).map((f) => valueName(f.bytes!));
  return { ops, inputDims, outputs, opset: asInt64(opsetField.find((f) => f.field === 2)!.varint!) };
}

const ALLOWED = new Set([
  'Conv',
  'Relu',
  'Add',
  'MaxPool',
  'GlobalAveragePool',
  'Flatten',
  'Gemm',
  'Sub',
  'Div',
  'Mul',
  'LayerNormalization',
  'ReduceMean',
  'Sqrt',
  'ReduceL2',
  'Max',
]);

interface Case {
  name: string;
  model: EmbedderOptions;
  shape: [number, number, number];
  opsets: (number | undefined)[];
  output: 'features' | 'both';
  /**
   * Give the zero-initialised classifier / remap bias random values, so logits and the remap fold are really tested.
   */
  randomHead?: boolean;
}

async function check(t: TestContext, c: Case): Promise<void> {
  manualSeed(7);
  const model = new ResNetEmbedder(c.model);
  const n = 3;
  const x = rand([n, ...c.shape]);
  randomiseBns(model, x);
  if (c.randomHead) {
    noGrad(() =>
      tidy(() => {
        model.classifier.weight.copy_(randn(model.classifier.weight.shape).mul(0.1));
        model.classifier.bias!.copy_(randn(model.classifier.bias!.shape).mul(0.1));
        if (model.remap instanceof nn.Linear) model.remap.bias!.copy_(randn(model.remap.bias!.shape).mul(0.1));
      }),
    );
  }
  model.eval();
  const ref = noGrad(() => model.forward(x));
  const refFeatures = ref.features.data() as Float32Array,
    refLogits = ref.logits.data() as Float32Array;
  const xs = x.data() as Float32Array;

  for (const opset of c.opsets) {
    model.train(); // export must produce the eval-mode graph regardless, and leave the flag alone
    const bytes = exportOnnx(model, { inputShape: c.shape, output: c.output, opset });
    assert.equal(model.training, true);
    model.eval();

    const info = inspect(bytes);
    assert.equal(info.opset, opset ?? 17);
    assert.deepEqual(info.inputDims, ['N', ...c.shape]);
    assert.deepEqual(info.outputs, c.output === 'both' ? ['features', 'logits'] : ['features']);
    for (const op of info.ops) assert.ok(ALLOWED.has(op), `unexpected op ${op}`);
    const convs = [...model.namedModules()].filter(([, m]) => m instanceof nn.Conv2d).length;
    assert.equal(info.ops.filter((o) => o === 'Conv').length, convs, 'one Conv per Conv2d, BNs folded in');
    if (c.model.normLayer === 'layer') assert.equal(info.ops.includes('LayerNormalization'), (opset ?? 17) >= 17);

    const session = await ort.InferenceSession.create(bytes);
    // The whole batch, then a single image: the batch dimension is dynamic.
    for (const [start, count] of [
      [0, n],
      [1, 1],
    ] as const) {
      const per = xs.length / n;
      const images = new ort.Tensor('float32', xs.slice(start * per, (start + count) * per), [count, ...c.shape]);
      const out = await session.run({ images });
      const fd = c.model.numFeatures ?? model.backboneFeatures;
      const want = refFeatures.subarray(start * fd, (start + count) * fd);
      const got = out.features!.data as Float32Array;
      const diff = maxAbsDiff(got, want);
      t.diagnostic(
        `${c.name} opset ${opset ?? 17} N=${count}: features max|Δ| ${diff.toExponential(2)} (max|f| ` +
          `${maxAbs(want).toFixed(3)})`,
      );
      assert.ok(diff < 1e-4, `${c.name}: features differ by ${diff}`);
      if (c.output === 'both') {
        const k = model.options.numClasses;
        const wantL = refLogits.subarray(start * k, (start + count) * k);
        const dl = maxAbsDiff(out.logits!.data as Float32Array, wantL);
        t.diagnostic(
          `${c.name} opset ${opset ?? 17} N=${count}: logits max|Δ| ${dl.toExponential(2)} (max|l| ` +
            `${maxAbs(wantL).toFixed(3)})`,
        );
        assert.ok(maxAbs(wantL) > 1e-3, 'logits are not trivially zero');
        assert.ok(dl < 1e-4, `${c.name}: logits differ by ${dl}`);
      }
    }
    await session.release();
  }
  ref.features.dispose();
  ref.logits.dispose();
  x.dispose();
  model.dispose();
}

test('resnet18, small input, 1×28×28, BatchNorm1d head (Mul/Add), features + logits', (t) =>
  check(t, {
    name: 'resnet18-small-bn',
    shape: [1, 28, 28],
    output: 'both',
    opsets: [undefined],
    randomHead: true,
    model: {
      arch: 'resnet18',
      numClasses: 10,
      inChannels: 1,
      smallInput: true,
      normLayer: 'batch',
      normalizeWeight: true,
    },
  }));

test('resnet18, 3×64×64, LayerNorm + L2 normalise (LayerNormalization at 17/18, decomposed at 13)', (t) =>
  check(t, {
    name: 'resnet18-ln-norm',
    shape: [3, 64, 64],
    output: 'features',
    opsets: [undefined, 13, 18],
    model: { arch: 'resnet18', numClasses: 5, normLayer: 'layer', normalize: true },
  }));

test('resnext50_32x4d, 3×64×64, BatchNorm1d folded into a remap to 128 features', (t) =>
  check(t, {
    name: 'resnext50-remap128',
    shape: [3, 64, 64],
    output: 'both',
    opsets: [undefined],
    randomHead: true,
    model: { arch: 'resnext50_32x4d', numClasses: 7, normLayer: 'batch', numFeatures: 128 },
  }));

test('resnet50, 3×64×64, LayerNorm → remap to 128 → L2 normalise, opset 23', (t) =>
  check(t, {
    name: 'resnet50-ln-remap128-norm',
    shape: [3, 64, 64],
    output: 'features',
    opsets: [23],
    randomHead: true,
    model: { arch: 'resnet50', numClasses: 3, normLayer: 'layer', numFeatures: 128, normalize: true },
  }));

test('exportOnnx refuses a wrong input shape or opset', () => {
  const model = new ResNetEmbedder({ arch: 'resnet18', numClasses: 2, inChannels: 1, smallInput: true });
  assert.throws(() => exportOnnx(model, { inputShape: [3, 28, 28] }), /channels/);
  assert.throws(() => exportOnnx(model, { inputShape: [1, 28, 28], opset: 11 }), /opset/);
  model.dispose();
});

test('saveOnnx writes atomically and onnxruntime loads the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dml-onnx-'));
  try {
    const model = new ResNetEmbedder({
      arch: 'resnet18',
      numClasses: 2,
      inChannels: 1,
      smallInput: true,
      normLayer: 'layer',
    });
    const bytes = exportOnnx(model, { inputShape: [1, 16, 16] });
    model.dispose();
    const path = join(dir, 'model.onnx');
    saveOnnx(path, bytes);
    saveOnnx(path, bytes); // replacing an existing file
    assert.deepEqual(readdirSync(dir), ['model.onnx'], 'no temp file left behind');
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
    const session = await ort.InferenceSession.create(path);
    assert.deepEqual(session.inputNames, ['images']);
    assert.deepEqual(session.outputNames, ['features']);
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ViT (class token and patch mean, LayerNorm head, opsets 13 and 17) matches onnxruntime to 1e-4', async (t) => {
  const { ViTEmbedder } = await import('../../../src/ml/models/vit.js');
  manualSeed(11);
  for (const [pool, opset, normLayer] of [
    ['token', 17, 'layer'],
    ['mean', 13, 'none'],
  ] as const) {
    const model = new ViTEmbedder({
      arch: { hiddenDim: 24, numLayers: 2, numHeads: 3, mlpDim: 40, patchSize: 4 },
      numClasses: 4,
      imageSize: 16,
      pool,
      normLayer,
      numFeatures: 12,
    });
    noGrad(() =>
      tidy(() => {
        model.classifier.weight.copy_(randn(model.classifier.weight.shape).mul(0.1));
        model.param('class_token')!.copy_(randn([1, 1, 24]));
      }),
    );
    model.eval();
    const x = rand([3, 3, 16, 16]);
    const ref = noGrad(() => model.forward(x));
    const bytes = exportOnnx(model, { inputShape: [3, 16, 16], output: 'both', opset });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      images: new ort.Tensor('float32', (x.data() as Float32Array).slice(), [3, 3, 16, 16]),
    });
    const df = maxAbsDiff(out.features!.data as Float32Array, ref.features.data() as Float32Array);
    const dl = maxAbsDiff(out.logits!.data as Float32Array, ref.logits.data() as Float32Array);
    t.diagnostic(`ViT ${pool} opset ${opset}: features max|Δ| ${df.toExponential(2)}, logits ${dl.toExponential(2)}`);
    assert.ok(df < 1e-4 && dl < 1e-4, `${pool}/${opset}: ${df}, ${dl}`);
    assert.throws(() => exportOnnx(model, { inputShape: [3, 20, 20] }), /takes 3×S×S images with S = 16/);
    await session.release();
    ref.features.dispose();
    ref.logits.dispose();
    x.dispose();
    model.dispose();
  }
});
