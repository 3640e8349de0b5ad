// The addon's tensor table is per thread: worker_threads use the engine at the same time safely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.engine).then(({ zeros, tidy, liveTensors }) => {
    let sum = 0;
    for (let i = 0; i < 5000; i++) sum += tidy(() => zeros([8]).add(i).sum().item());
    parentPort.postMessage({ sum, live: liveTensors() });
  });
`;

test('three threads run the engine concurrently without interfering', async () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const results = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<{ sum: number; live: number }>((resolve, reject) => {
          const w = new Worker(WORKER, { eval: true, workerData: { engine } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const expected = (8 * (4999 * 5000)) / 2;
  for (const r of results) assert.deepEqual(r, { sum: expected, live: 0 });
});

// A worker terminated while it is inside engine calls must stop alone: the exception libtorch's
// call could not throw into a dying JS context used to abort the whole process.
test('terminating a worker in the middle of engine calls leaves the process running', { timeout: 120_000 }, () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const script = `
    import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
    const code = \`
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.engine).then(({ randn, tidy }) => {
        parentPort.postMessage('go');
        for (;;) tidy(() => randn([128, 128]).matmul(randn([128, 128])).sum().item());
      });\`;
    for (let i = 0; i < 8; i++) {
      const w = new Worker(code, { eval: true, execArgv: [], workerData: { engine: ${JSON.stringify(engine)} } });
      await new Promise((r) => w.once('message', r));
      await new Promise((r) => setTimeout(r, 20 + 10 * i));
      await w.terminate();
    }
    console.log('survived');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /survived/);
  assert.doesNotMatch(r.stderr, /terminate called/);
});
