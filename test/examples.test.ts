// The README's library examples are these files, compiled with the rest and run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { train, openRun } from '../src/index.js';
import { writeSyntheticIdx } from './ml/data/synthetic-idx.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');

for (const name of ['custom-loop.ts', 'inference.ts']) {
  test(`README shows examples/${name} as it is`, () => {
    const m = new RegExp(`<!-- example: ${name.replace('.', '\\.')} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
    assert.ok(m, `README has <!-- example: ${name} --> and a ts block`);
    assert.equal(m[1], readFileSync(path.join(repo, 'examples', name), 'utf8'));
  });
}

test('the custom loop trains: fewer semi-hard triplets after 40 steps', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, [path.join(repo, 'dist/examples/custom-loop.js')], {
    encoding: 'utf8',
    env: { ...process.env, STEPS: '41' },
  });
  assert.equal(r.status, 0, r.stderr);
  const counts = [...r.stdout.matchAll(/^step (\d+): triplet loss \d\.\d{4} on (\d+) semi-hard triplets$/gm)].map(
    (m) => [Number(m[1]), Number(m[2])],
  );
  assert.deepEqual(
    counts.map((c) => c[0]),
    [0, 20, 40],
  );
  assert.ok(counts[2]![1]! < counts[0]![1]!, r.stdout);
});

test('train() then openRun(): the inference example evaluates and searches a run', { timeout: 180_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dml-examples-'));
  writeSyntheticIdx(path.join(root, 'data'), 16, 6, 12);
  const out = path.join(root, 'run');
  const r = await train({
    overrides: [
      `data.root=${path.join(root, 'data')}`,
      'batchSize=16',
      'model.smallInput=true',
      'model.numFeatures=16',
      'threads=1',
      'epochs=1',
      `out=${out}`,
    ],
  });
  assert.equal(r.epochs, 1);
  assert.equal(r.runDir, out);
  const images: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(root, `${i}.png`);
    await sharp(Buffer.from(Array.from({ length: 144 }, (_, j) => (j * (i + 3) * 17) & 255)), {
      raw: { width: 12, height: 12, channels: 1 },
    })
      .png()
      .toFile(f);
    images.push(f);
  }
  const run = openRun(out);
  try {
    assert.equal(run.file, path.join(out, 'best.safetensors'));
    const z = await run.embed(images);
    assert.deepEqual(z.shape, [3, 16]);
    const { indices } = run.search(z, z, 1);
    assert.deepEqual([...indices], [0, 1, 2], 'each image is its own nearest');
    z.dispose();
  } finally {
    await run.close();
  }
  const ex = spawnSync(process.execPath, [path.join(repo, 'dist/examples/inference.js'), out, ...images], {
    encoding: 'utf8',
  });
  assert.equal(ex.status, 0, ex.stderr);
  assert.match(ex.stdout, /^epoch 1: R@1 \d+\.\d\d %$/m);
  for (const f of images)
    assert.match(ex.stdout, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} → .*\\.png$`, 'm'));
});
