// data.kind=folder end to end: class folders in, their names carried into the checkpoint and dml eval;
// images far below the crop size are flagged; missing folders get advice that exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEmbedder } from '../../../../src/ml/run/load.js';
import { writeClassFolders as tree } from '../../data/helpers.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src/cli/main.js');
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8' });
const dmlEnv = (env: Record<string, string>, ...a: string[]) =>
  spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', env: { ...process.env, ...env } });

test(
  'a folder of class folders trains; its class names reach the checkpoint and dml eval; small images are flagged',
  { timeout: 180_000 },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-folder-'));
    await tree(path.join(root, 'train'), ['cat', 'dog', 'owl'], 6, 8);
    await tree(path.join(root, 'test'), ['ant', 'bee'], 4, 8);
    const out = path.join(root, 'run');
    const common = [
      'data.kind=folder',
      `data.train=${path.join(root, 'train')}`,
      `data.test=${path.join(root, 'test')}`,
      'data.imageSize=32',
      'data.resize=36',
      'model.arch=resnet18',
      'model.smallInput=true',
      'model.numFeatures=8',
      'batchSize=6',
      'epochs=1',
      'threads=1',
      'data.workers=1',
    ];
    const r = dml('train', ...common, `out=${out}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        /the images are small for data\.imageSize=32: the median shorter side of \d+ of them is 8 px, /.source +
          /so they are upscaled about 4\.0×/.source,
      ),
    );
    const loaded = loadEmbedder(out);
    try {
      assert.deepEqual(loaded.classNames, { train: ['cat', 'dog', 'owl'], test: ['ant', 'bee'] });
    } finally {
      loaded.model.dispose();
    }
    const e = dml('eval', '--checkpoint', out);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /^test classes: ant, bee$/m);

    // Progress of the other commands goes to stderr (at most every DML_PROGRESS_SECONDS); --quiet drops it.
    const emb = path.join(root, 'e.safetensors');
    const p = dmlEnv(
      { DML_PROGRESS_SECONDS: '0' },
      'embed',
      '--checkpoint',
      out,
      '--dir',
      path.join(root, 'test'),
      '--batch',
      '2',
      '--out',
      emb,
    );
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stderr, /^embedding image 2\/8 .*ETA/m);
    assert.doesNotMatch(p.stdout, /embedding image/);
    const q = dmlEnv(
      { DML_PROGRESS_SECONDS: '0' },
      'embed',
      '--checkpoint',
      out,
      '--dir',
      path.join(root, 'test'),
      '--batch',
      '2',
      '--out',
      emb,
      '--quiet',
    );
    assert.equal(q.status, 0, q.stderr);
    assert.doesNotMatch(q.stderr, /embedding image/);
    const quietTrain = dmlEnv(
      { DML_PROGRESS_SECONDS: '0' },
      'train',
      ...common,
      `out=${path.join(root, 'quiet')}`,
      '--quiet',
    );
    assert.equal(quietTrain.status, 0, quietTrain.stderr);
    assert.doesNotMatch(quietTrain.stdout, /dml train: preset|epoch 1\/1 step/);
    assert.match(quietTrain.stdout, /Recall@K \(%\) on unseen classes after 1 epochs/);

    const none = dml('train', 'data.kind=folder', `out=${path.join(root, 'none')}`);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /data\.kind=folder needs data\.train: a folder with one subfolder of images per class/);
    assert.doesNotMatch(none.stderr, /dml prepare folder/);
  },
);
