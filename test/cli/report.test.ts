// dml report reads the run's data through loaders with worker threads: when it returns, those
// threads are gone (they used to stay until the process exited).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { command as report } from '../../src/cli/report.js';
import { writeClassFolders as tree } from '../ml/data/helpers.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** This process's threads, as the kernel counts them. */
const threads = (): number => readdirSync('/proc/self/task').length;

test(
  'dml report leaves no loader threads behind',
  { timeout: 180_000, skip: !existsSync('/proc/self/task') && 'needs /proc/self/task' },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-report-threads-'));
    await tree(path.join(root, 'train'), ['cat', 'dog', 'owl'], 4, 16);
    await tree(path.join(root, 'test'), ['ant', 'bee'], 4, 16);
    const out = path.join(root, 'run');
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'train',
        '--quiet',
        'data.kind=folder',
        `data.train=${path.join(root, 'train')}`,
        `data.test=${path.join(root, 'test')}`,
        'data.imageSize=16',
        'data.resize=16',
        'data.workers=3',
        'model.arch=resnet18',
        'model.smallInput=true',
        'model.numFeatures=8',
        'batchSize=6',
        'epochs=1',
        'threads=1',
        `out=${out}`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const args = [out, '--quiet', '--no-mi', '--iterations', '10', '--max-points', '8', '--examples', '2'];
    const log = console.log;
    console.log = () => {};
    try {
      // The first report starts what stays for the process (libtorch's and libuv's pools).
      assert.equal(await report.run([...args, '--out', path.join(root, 'a.html')]), 0);
      const before = threads();
      assert.equal(await report.run([...args, '--out', path.join(root, 'b.html')]), 0);
      // A terminated worker's thread may take a moment to be reaped on a loaded machine; a leaked one stays.
      for (let i = 0; i < 50 && threads() > before; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(threads() <= before, `${threads() - before} threads started by the second report are still running`);
    } finally {
      console.log = log;
    }
  },
);
