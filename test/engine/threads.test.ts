// The addon's tensor table is per thread: worker_threads use the engine at the same time safely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

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
  const results = await Promise.all([0, 1, 2].map(() => new Promise<{ sum: number; live: number }>((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { engine } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const expected = 8 * (4999 * 5000) / 2;
  for (const r of results) assert.deepEqual(r, { sum: expected, live: 0 });
});
