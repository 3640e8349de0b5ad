// Silent corruption made loud: NaN weights in a checkpoint, non-finite embeddings, and Euclidean
// distances that overflow float32 (they used to come out as "score": null).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTensors, saveTensors, tensor } from '../../src/engine/index.js';
import { ExactIndex } from '../../src/server/exact-index.js';
import { makeCheckpoint } from '../server/helpers.js';
import { writeImage } from '../ml/data/helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-corrupt-'));
const gallery = path.join(root, 'gallery');
let nanCheckpoint = '';

before(async () => {
  mkdirSync(path.join(gallery, 'a'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeImage(path.join(gallery, 'a', `${i}.png`), 20, 16, { seed: i, format: 'png' });
  const good = await makeCheckpoint(path.join(root, 'good.safetensors'));
  const { tensors, metadata } = loadTensors(good);
  const key = 'model.layer1.0.conv1.weight';
  const w = tensors.get(key)!;
  const values = w.data() as Float32Array;
  values[3] = Number.NaN;
  tensors.set(key, tensor(values, { shape: w.shape }));
  nanCheckpoint = path.join(root, 'nan.safetensors');
  saveTensors(nanCheckpoint, tensors, metadata);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('a checkpoint with a NaN weight is refused by embed and serve, naming the tensor', { timeout: 120_000 }, () => {
  const why = /nan\.safetensors: model weight 'layer1\.0\.conv1\.weight' has 1 non-finite value \(NaN or infinite\)/;
  const e = spawnSync(
    process.execPath,
    [cli, 'embed', '--checkpoint', nanCheckpoint, '--dir', gallery, '--out', path.join(root, 'e.safetensors')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(e.status, 1, e.stderr);
  assert.match(e.stderr, why);
  const s = spawnSync(
    process.execPath,
    [cli, 'serve', '--checkpoint', nanCheckpoint, '--gallery', gallery, '--port', '0', '-q'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, why);
});

test('the exact index refuses non-finite embeddings and never returns an infinite score', () => {
  assert.throws(() => new ExactIndex(Float32Array.from([1, 2, Number.NaN, 4]), 2, 2), /gallery item 1 is not finite/);
  // Finite but huge: their squared distances overflow float32.
  const huge = new ExactIndex(Float32Array.from([1e38, 1e38, -1e38, -1e38, 1, 1]), 3, 2);
  const r = huge.search(Float32Array.from([3e38, 3e38]), 1, 3, 'l2');
  assert.ok([...r.scores].every(Number.isFinite), String(r.scores));
  assert.deepEqual([...r.ids], [0, 2, 1]);
  assert.ok(Math.abs(r.scores[0]! - Math.hypot(2e38, 2e38)) / r.scores[0]! < 1e-6);
  assert.throws(() => huge.search(Float32Array.from([Number.NaN, 0]), 1, 1, 'cosine'), /query embedding is not finite/);
  huge.dispose();
});
