// A ViT trains, checkpoints, evaluates and embeds like a ResNet (ViT-Tiny with 4-px patches on
// 12-px synthetic Fashion-MNIST-shaped data, so it takes seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticIdx } from '../data/synthetic-idx.js';
import { loadEmbedder } from '../../../src/ml/run/load.js';
import { ViTEmbedder } from '../../../src/ml/models/vit.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8' });

test(
  'vit_tiny_patch16 with model.patchSize=4: train, eval, embed, export, and the checkpoint rebuilds the same ViT',
  { timeout: 180_000 },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-vit-run-'));
    writeSyntheticIdx(path.join(root, 'data'), 16, 6, 12);
    const out = path.join(root, 'run');
    const r = dml(
      'train',
      `data.root=${path.join(root, 'data')}`,
      'model.arch=vit_tiny_patch16',
      'model.patchSize=4',
      'model.dropPathRate=0.1',
      'model.numFeatures=32',
      'batchSize=16',
      'epochs=2',
      'threads=1',
      'optim.name=adamw',
      'optim.lr=0.001',
      'optim.weightDecay=0.05',
      'optim.layerDecay=0.75',
      'model.freezePatchEmbed=true',
      `out=${out}`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /vit_tiny_patch16, 2 epochs/);
    assert.match(r.stdout, /Recall@K \(%\) on unseen classes after 2 epochs/);
    const loaded = loadEmbedder(out);
    try {
      assert.ok(loaded.model instanceof ViTEmbedder);
      assert.equal(loaded.model.options.patchSize, 4);
      assert.equal(loaded.model.encoder.param('pos_embedding')!.shape[1], 10, '3×3 patches and the class token');
    } finally {
      loaded.model.dispose();
    }
    const e = dml('eval', '--checkpoint', out, '--json');
    assert.equal(e.status, 0, e.stderr);
    assert.equal((JSON.parse(e.stdout.trim().split('\n').pop()!) as { queries: number }).queries, 30);
    // dml embed takes the ViT checkpoint like a ResNet's.
    mkdirSync(path.join(root, 'imgs', 'a'), { recursive: true });
    for (let i = 0; i < 3; i++) {
      await sharp(Buffer.from(Array.from({ length: 144 }, (_, j) => (j * (i + 5) * 13) & 255)), {
        raw: { width: 12, height: 12, channels: 1 },
      })
        .png()
        .toFile(path.join(root, 'imgs', 'a', `${i}.png`));
    }
    const emb = dml(
      'embed',
      '--checkpoint',
      out,
      '--dir',
      path.join(root, 'imgs'),
      '--out',
      path.join(root, 'e.safetensors'),
    );
    assert.equal(emb.status, 0, emb.stderr);
    assert.match(emb.stdout, /wrote .*e\.safetensors: 3 embeddings of dimension 32/);
    const x = dml('export', '--checkpoint', out, '--out', path.join(root, 'm.onnx'), '--size', '12');
    assert.equal(x.status, 0, x.stderr);
    assert.match(x.stdout, /input images \[N,1,12,12\], output features/);
  },
);

test('layer-wise lr decay and a frozen patch embedding: the parameter groups of a ViT', async () => {
  const { paramGroups } = await import('../../../src/ml/train/optimizer.js');
  const { resolveConfig } = await import('../../../src/ml/run/config/resolve.js');
  const model = new ViTEmbedder({
    arch: { hiddenDim: 8, numLayers: 2, numHeads: 2, mlpDim: 8, patchSize: 4 },
    numClasses: 3,
    imageSize: 8,
  });
  try {
    for (const p of model.convProj.parameters()) p.requiresGrad_(false);
    const cfg = resolveConfig({ overrides: ['optim.name=adamw', 'optim.lr=0.1', 'optim.layerDecay=0.5'] });
    const groups = paramGroups(model, null, cfg);
    const named = new Map([...model.namedParameters()].map(([n, p]) => [p, n]));
    const lrOf = (name: string): number | undefined =>
      groups.find((g) => g.params.some((p) => named.get(p) === name))?.lr;
    assert.equal(lrOf('classifier.weight'), undefined, 'the head has the base lr');
    assert.equal(lrOf('encoder.layers.encoder_layer_1.mlp.0.weight'), 0.1 * 0.5);
    assert.equal(lrOf('encoder.layers.encoder_layer_0.mlp.0.weight'), 0.1 * 0.25);
    assert.equal(lrOf('class_token'), 0.1 * 0.125);
    assert.equal(lrOf('conv_proj.weight'), undefined);
    assert.ok(
      !groups.some((g) => g.params.some((p) => named.get(p)?.startsWith('conv_proj'))),
      'the frozen patch embedding is in no group',
    );
    const ln = groups.find((g) => g.params.some((p) => named.get(p) === 'encoder.layers.encoder_layer_1.ln_1.weight'))!;
    assert.equal(ln.weightDecay, 0, 'no decay on 1-D parameters');
    assert.throws(
      () => resolveConfig({ overrides: ['optim.layerDecay=0'] }),
      /'optim\.layerDecay' must be a number in \(0, 1\]/,
    );
  } finally {
    model.dispose();
  }
});

test(
  'a ViT preset trains with its own loss, sampler and optimiser (cub-vit, shrunk to synthetic data) and warns ' +
    'without its weights',
  { timeout: 180_000 },
  () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-vit-preset-'));
    writeSyntheticIdx(path.join(root, 'data'), 16, 6, 12);
    const out = path.join(root, 'run');
    // Only the data (5 training classes: batch 5 × the preset's 4), the model's size and the budget are overridden:
    // loss, mining, sampler, optimiser
    // and schedule are the preset's.
    const r = dml(
      'train',
      '--preset',
      'cub-vit',
      'data.kind=fashion-mnist',
      `data.root=${path.join(root, 'data')}`,
      'data.imageSize=12',
      'model.arch=vit_tiny_patch16',
      'model.patchSize=4',
      'batchSize=20',
      'epochs=1',
      'threads=1',
      'recallKs=1,2',
      `out=${out}`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /preset cub-vit, vit_tiny_patch16, 1 epochs, batch 20, lr 0.00001, loss triplet/);
    assert.match(r.stderr, /warning: preset cub-vit starts from DINO's ViT-S\/16, dino_deitsmall16_pretrain\.pth/);
    assert.match(r.stdout, /Recall@K \(%\) on unseen classes after 1 epochs/);
  },
);
