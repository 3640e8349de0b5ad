// openRun is how every command reads a checkpoint: the configuration it sees carries the checkpoint's
// data keys and recallKs under the command's overrides (dml mi used to drop recallKs), and close()
// frees the model and the data together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dispose, randn } from '../../../src/engine/index.js';
import { openRun } from '../../../src/ml/run/open-run.js';
import { writeSyntheticIdx } from '../data/synthetic-idx.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');

test(
  'every command opens a checkpoint the same way: data and recallKs kept, overrides on top',
  { timeout: 180_000 },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-open-run-'));
    const data = path.join(root, 'data');
    writeSyntheticIdx(data, 16, 6, 12);
    const out = path.join(root, 'run');
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'train',
        '--quiet',
        `data.root=${data}`,
        'batchSize=16',
        'model.smallInput=true',
        'model.numFeatures=16',
        'threads=1',
        'epochs=1',
        'recallKs=1,3',
        'data.limitTest=40',
        'seed=7',
        `out=${out}`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);

    const run = openRun(out);
    try {
      // What embed() gives the model: grey IDX data brought to the Fashion-MNIST kind's native side, as any image is.
      assert.deepEqual(run.input, { channels: 1, height: 28, width: 28 });
      const x = await run.embed(randn([2, run.input.channels, run.input.height, run.input.width]));
      assert.deepEqual(x.shape, [2, 16]);
      x.dispose();
      // The class names: the checkpoint's record, the same as the datasets'.
      const names = await run.classes();
      assert.deepEqual(names, run.classNames);
      assert.deepEqual(names, (await run.datasets()).classNames);
      assert.equal(names.train.length, 5);
      assert.deepEqual(run.config.recallKs, [1, 3]);
      assert.deepEqual([run.config.data.root, run.config.data.limitTest, run.config.seed], [data, 40, 7]);
      const report = await run.evaluate();
      assert.deepEqual(Object.keys(report.recall.cosine), ['1', '3']);
      assert.equal(report.queries, 30);
      // The train split, with the classifier's logits, as dml mi embeds it.
      const e = await run.embedSet((await run.datasets()).trainEval, 'embedding the train split', { logits: true });
      try {
        assert.deepEqual(
          [e.features.shape, e.logits?.shape],
          [
            [80, 16],
            [80, 5],
          ],
        );
      } finally {
        dispose(e);
      }
    } finally {
      await run.close();
    }
    await assert.rejects(async () => run.datasets(), /is closed/);

    const over = openRun(out, { overrides: ['recallKs=2', 'data.limitTest=20'] });
    try {
      assert.deepEqual([over.config.recallKs, over.config.data.limitTest], [[2], 20]);
      assert.deepEqual(Object.keys((await over.evaluate()).recall.cosine), ['2']);
    } finally {
      await over.close();
    }
    assert.throws(
      () => openRun(out, { overrides: ['recallKs=0'] }),
      /override 'recallKs=0': config: 'recallKs' must be/,
    );
  },
);
