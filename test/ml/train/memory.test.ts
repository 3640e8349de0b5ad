// dml train with a cross-batch memory (loss.memory.size): the loss is wrapped, refused where it
// cannot work, and the memory is part of the checkpoint, so --resume continues it bit-for-bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTensors, randn, toRaw, tensor } from '../../../src/engine/index.js';
import { resolveConfig } from '../../../src/ml/run/config/resolve.js';
import { ConfigError } from '../../../src/ml/run/config/errors.js';
import { makeLoss } from '../../../src/ml/train/wiring.js';
import { CrossBatchMemory, ContrastiveLoss } from '../../../src/ml/losses/index.js';
import { writeSyntheticIdx } from '../data/synthetic-idx.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');

test('loss.memory.size wraps a pair loss in CrossBatchMemory, and refuses other losses and too small a memory', () => {
  const cfg = resolveConfig({
    overrides: ['loss.name=contrastive', 'loss.memory.size=64', 'loss.memory.start=5', 'batchSize=16'],
  });
  const l = makeLoss(cfg, 10, 8);
  assert.ok(l.module instanceof CrossBatchMemory);
  const xbm = l.module;
  assert.ok(xbm.loss instanceof ContrastiveLoss);
  assert.equal(xbm.memorySize, 64);
  assert.equal(xbm.startAfter, 5);
  assert.equal(l.pairwise, true, 'class-balanced batches, as for the wrapped loss');
  const y = tensor([0, 0, 1, 1], { dtype: 'int64' });
  const v = l.compute({ features: randn([4, 8]), logits: randn([4, 10]) }, y);
  assert.ok(Number.isFinite(v.item()));
  assert.equal(xbm.size, 0, 'nothing stored before loss.memory.start steps');
  assert.throws(
    () => makeLoss(resolveConfig({ overrides: ['loss.memory.size=64', 'batchSize=16'] }), 10, 8),
    /'loss.memory.size' needs a loss that compares each batch with the memory .* 'smooth-ce' does not/,
  );
  assert.throws(
    () =>
      makeLoss(resolveConfig({ overrides: ['loss.name=proxy-anchor', 'loss.memory.size=64', 'batchSize=16'] }), 10, 8),
    /'proxy-anchor' does not/,
  );
  // A rule between two keys: resolveConfig refuses it, naming the key and the override that set it.
  assert.throws(
    () => resolveConfig({ overrides: ['loss.name=triplet', 'loss.memory.size=8', 'batchSize=16'] }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.key === 'loss.memory.size' &&
      e.origin.kind === 'override' &&
      e.origin.arg === 'loss.memory.size=8' &&
      /'loss.memory.size' \(8\) must hold at least one batch \(batchSize 16\)/.test(e.message),
  );
});

function train(data: string, out: string, epochs: number, resume = false): void {
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'train',
      ...(resume ? ['--resume'] : []),
      `data.root=${data}`,
      `out=${out}`,
      `epochs=${epochs}`,
      'batchSize=16',
      'loss.name=contrastive',
      'loss.memory.size=40',
      'loss.memory.start=3',
      'optim.schedule=none',
      'model.smallInput=true',
      'model.numFeatures=16',
      'threads=1',
      'seed=3',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
}

function checkpoint(run: string): Map<string, Buffer> {
  const { tensors } = loadTensors(path.join(run, 'last.safetensors'));
  const out = new Map<string, Buffer>();
  for (const [k, t] of tensors) {
    out.set(k, Buffer.from(toRaw(t).data));
    t.dispose();
  }
  return out;
}

test('the memory is checkpointed: 1 epoch + --resume to 2 equals 2 epochs straight', { timeout: 240_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-xbm-'));
  const data = path.join(root, 'data');
  writeSyntheticIdx(data, 8, 4, 12);
  train(data, path.join(root, 'straight'), 2);
  train(data, path.join(root, 'cut'), 1);
  train(data, path.join(root, 'cut'), 2, true);
  const a = checkpoint(path.join(root, 'straight')),
    b = checkpoint(path.join(root, 'cut'));
  const memory = a.get('loss.embedding_memory');
  assert.ok(memory, [...a.keys()].filter((k) => k.startsWith('loss')).join(', '));
  assert.ok(a.has('loss.label_memory') && a.has('loss.queue'));
  assert.ok(new Float32Array(memory.buffer, memory.byteOffset, memory.length / 4).some((v) => v !== 0));
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `${k} differs after resume`);
});
