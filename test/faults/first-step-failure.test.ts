// A run that fails on its first step while its loader's worker is still loading the next batch:
// closing the worker pool used to leave nothing holding the process up while the worker exited,
// so the command ended as "internal error: 'train' stopped before finishing" (exit 70) instead of
// the error that stopped it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../ml/data/helpers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dml-first-step-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a run failing on its first step with a data worker loading says why, not "internal error"', async () => {
  // One training class: smooth-ce refuses it at the first step, with batch 2 of 3 loading.
  for (let i = 0; i < 12; i++) await writeImage(path.join(root, 'train', 'only', `${i}.png`), 16, 16, { seed: i });
  for (let i = 0; i < 4; i++) await writeImage(path.join(root, 'test', `t${i % 2}`, `${i}.png`), 16, 16, { seed: i });
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'train',
      'preset=none',
      'data.kind=folder',
      `data.train=${root}/train`,
      `data.test=${root}/test`,
      'model.arch=resnet18',
      'model.smallInput=true',
      'data.imageSize=16',
      'data.resize=16',
      'batchSize=4',
      'epochs=1',
      'data.workers=1',
      'threads=1',
      `out=${root}/run`,
      '--quiet',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /logits have 1 class; smoothing \(epsilon 0\.1\) needs at least 2/);
});
