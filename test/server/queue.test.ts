// Bounded inference: 503 when the queue is full, 504 when a job outlives its timeout, and several
// workers sharing the engine under load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, removeFixture, serve, fetchJson, type GalleryFixture, type ErrorBody } from './helpers.js';
import type { QueryResponse } from '../../src/server/index.js';

let fx: GalleryFixture;
before(async () => {
  fx = await makeFixture();
});
after(() => removeFixture(fx));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a full queue answers 503 at once, a slow job 504, and the server recovers', async () => {
  // One job at a time, one waiting; each inference takes 500 ms in its worker.
  const srv = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.folder,
    maxConcurrent: 1,
    maxQueue: 1,
    debugDelayMs: 500,
    jobTimeoutMs: 900,
  });
  try {
    const q = (id: number): Promise<{ status: number; body: QueryResponse & ErrorBody; headers: Headers }> =>
      fetchJson<QueryResponse & ErrorBody>(`${srv.url}/api/query?id=${id}&k=2`);
    const first = q(0);
    await sleep(60);
    const second = q(1); // waits for the first: done no earlier than 1000 ms > 900 ms timeout
    await sleep(60);
    const t0 = performance.now();
    const third = await q(2);
    assert.ok(performance.now() - t0 < 600, 'a refused request is answered at once, not after the jobs ahead of it');
    assert.equal(third.status, 503);
    assert.equal(third.body.error.code, 'queue_full');
    assert.equal(third.headers.get('retry-after'), '1');
    const a = await first;
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const b = await second;
    assert.equal(b.status, 504, JSON.stringify(b.body));
    assert.equal(b.body.error.code, 'timeout');
    await sleep(400); // the timed-out job still holds its slot until it really ends
    const stats = await fetchJson<{
      queue: { rejected: number; active: number; queued: number; maxActive: number; maxQueue: number };
    }>(`${srv.url}/api/stats`);
    assert.equal(stats.body.queue.rejected, 1);
    assert.equal(stats.body.queue.active, 0);
    assert.equal(stats.body.queue.queued, 0);
    assert.equal(stats.body.queue.maxActive, 1);
    assert.equal(stats.body.queue.maxQueue, 1);
    const again = await q(3);
    assert.equal(again.status, 200);
    // Health and stats never wait for inference.
    const busy = q(4);
    const t1 = performance.now();
    assert.equal((await fetchJson(`${srv.url}/api/health`)).status, 200);
    assert.ok(performance.now() - t1 < 400, 'health answers while an inference runs');
    assert.equal((await busy).status, 200);
  } finally {
    await srv.close();
  }
});

test('two workers embed concurrent uploads correctly (engine calls are serialised)', async () => {
  const srv = await serve({
    checkpoint: fx.checkpoint,
    gallery: fx.folder,
    workers: 2,
    maxConcurrent: 8,
    maxQueue: 64,
  });
  try {
    const names = [...fx.bytes.keys()];
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => {
        const name = names[i % names.length]!;
        return fetchJson<QueryResponse>(`${srv.url}/api/query?k=1`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: new Uint8Array(fx.bytes.get(name)!),
        }).then((r) => ({ name, r }));
      }),
    );
    for (const { name, r } of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.neighbours[0]!.path, name, 'each upload finds itself');
      assert.ok(r.body.neighbours[0]!.score > 0.9999);
    }
    const s = await fetchJson<{ queue: { workers: number; completed: number; workerRestarts: number } }>(
      `${srv.url}/api/stats`,
    );
    assert.equal(s.body.queue.workers, 2);
    assert.equal(s.body.queue.completed, 24);
    assert.equal(s.body.queue.workerRestarts, 0);
  } finally {
    await srv.close();
  }
});

test(
  'concurrent uploads share forward passes (the batching window), a broken upload does not hold the batch back, ' +
    'and batched features equal single ones',
  async () => {
    // A long window: the batch closes when every upload being decoded has joined it, not on the timer.
    const srv = await serve({
      checkpoint: fx.checkpoint,
      gallery: fx.folder,
      maxConcurrent: 16,
      maxQueue: 64,
      batchWindowMs: 5000,
    });
    try {
      const names = [...fx.bytes.keys()];
      const post = (body: Uint8Array<ArrayBuffer>): Promise<{ status: number; body: QueryResponse & ErrorBody }> =>
        fetchJson<QueryResponse & ErrorBody>(`${srv.url}/api/query?k=1`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body,
        });
      const alone = await post(new Uint8Array(fx.bytes.get(names[0]!)!));
      assert.equal(alone.status, 200);
      const stats = async (): Promise<{
        imageQueries: number;
        imageBatchMean: number | null;
        batchWindowMs: number;
      }> => {
        const q = (
          await fetchJson<{ queue: { imageQueries: number; imageBatchMean: number | null; batchWindowMs: number } }>(
            `${srv.url}/api/stats`,
          )
        ).body.queue;
        return { imageQueries: q.imageQueries, imageBatchMean: q.imageBatchMean, batchWindowMs: q.batchWindowMs };
      };
      assert.deepEqual(
        await stats(),
        { imageQueries: 1, imageBatchMean: 1, batchWindowMs: 5000 },
        'a lone upload runs at once, alone',
      );
      const t0 = performance.now();
      const broken = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
      const results = await Promise.all(
        Array.from({ length: 14 }, (_, i) => {
          if (i === 5 || i === 11) return post(broken).then((r) => ({ name: null, r }));
          const name = names[i % names.length]!;
          return post(new Uint8Array(fx.bytes.get(name)!)).then((r) => ({ name, r }));
        }),
      );
      assert.ok(performance.now() - t0 < 4000, 'the batches did not wait for the 5 s window');
      for (const { name, r } of results) {
        if (name === null) {
          assert.equal(r.status, 422, JSON.stringify(r.body));
          continue;
        }
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.neighbours[0]!.path, name, 'each upload finds itself');
        assert.ok(r.body.neighbours[0]!.score > 0.9999);
      }
      const s = await stats();
      assert.equal(s.imageQueries, 13);
      assert.ok(s.imageBatchMean !== null && s.imageBatchMean > 1.5, `uploads per forward: ${s.imageBatchMean}`);
    } finally {
      await srv.close();
    }
  },
);
