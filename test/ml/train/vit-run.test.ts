// A ViT trains, checkpoints, evaluates and embeds like a ResNet (ViT-Tiny with 4-px patches on
// 12-px synthetic Fashion-MNIST-shaped data, so it takes seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticIdx } from './helpers.js';
import { loadEmbedder } from '../../../src/ml/train/load.js';
import { ViTEmbedder } from '../../../src/ml/models/vit.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8' });

test('vit_tiny_patch16 with model.patchSize=4: train, eval, and the checkpoint rebuilds the same ViT', { timeout: 180_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-vit-run-'));
  writeSyntheticIdx(path.join(root, 'data'), 16, 6, 12);
  const out = path.join(root, 'run');
  const r = dml('train', `data.root=${path.join(root, 'data')}`, 'model.arch=vit_tiny_patch16', 'model.patchSize=4', 'model.dropPathRate=0.1',
    'model.numFeatures=32', 'batchSize=16', 'epochs=2', 'threads=1', 'optim.lr=0.01', `out=${out}`);
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
  const x = dml('export', '--checkpoint', out, '--out', path.join(root, 'm.onnx'), '--size', '12');
  assert.equal(x.status, 0, x.stderr);
  assert.match(x.stdout, /input images \[N,1,12,12\], output features/);
});
