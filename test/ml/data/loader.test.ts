import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImageLoader, type Batch } from '../../../src/ml/data/loader.js';
import { BatchMemory } from '../../../src/ml/data/batch-memory.js';
import { readList, type Sample } from '../../../src/ml/data/list.js';
import { Pipeline } from '../../../src/ml/data/pipeline.js';
import { referencePipelines } from '../../../src/ml/data/presets.js';
import { sampleRng } from '../../../src/ml/random.js';
import {
  ColorJitter,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Resize,
  ToTensor,
} from '../../../src/ml/data/transforms.js';
import { createLoaderPool, LoaderFatalError, WorkerPool } from '../../../src/ml/data/worker-pool.js';
import { tempDir, writeImage, writeText } from './helpers.js';
import { tensor } from '../../../src/engine/index.js';

const tmp = tempDir('loader');
after(tmp.cleanup);
const N = 12;
let samples: Sample[] = [];
const listFile = path.join(tmp.dir, 'train.txt');

// Small images and crops keep the test fast; the pipeline has every kind of step the reference uses.
const train = new Pipeline([
  new Resize(40),
  new ColorJitter(0.25, 0.25, 0.25, 0.05),
  new RandomResizedCrop(32, { scale: [0.16, 1] }),
  new RandomHorizontalFlip(),
  new ToTensor(),
]);
const evalPipe = referencePipelines('cub', { resize: 40, cropSize: 32 }).test;

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  const lines: string[] = ['# generated'];
  for (let i = 0; i < N; i++) {
    const rel = `img/c${i % 3}/${i}.${i % 4 === 0 ? 'png' : 'jpg'}`;
    await writeImage(path.join(tmp.dir, rel), 50 + 3 * i, 40 + 2 * i, { seed: i, gray: i === 5 });
    lines.push(`${rel},${10 + (i % 3)}`);
  }
  writeText(listFile, lines.join('\n') + '\n');
  samples = readList(listFile).samples;
});

after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

const plan = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
  [8, 9, 10, 11],
  [3, 3, 0, 7],
];

async function collect(loader: ImageLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.iterate(plan, epoch)) out.push(b);
  return out;
}

test('batches are identical whatever the worker count, and follow the plan order', async () => {
  const runs: Batch[][] = [];
  for (const workers of [0, 1, 3]) {
    const loader = new ImageLoader(samples, { pipeline: train, workers, seed: 7, prefetch: 2 });
    try {
      runs.push(await collect(loader, 2));
    } finally {
      await loader.close();
    }
  }
  const [a, b, c] = runs as [Batch[], Batch[], Batch[]];
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.deepEqual(
    a.map((x) => x.shape),
    plan.map((p) => [p.length, 3, 32, 32]),
  );
  assert.deepEqual(
    a.map((x) => [...x.indices]),
    plan,
  );
  assert.deepEqual([...a[0]!.labels], [0, 1, 2, 0]);
  assert.ok(a.every((x) => x.images.every((v) => v >= 0 && v <= 1)));
  // The repeated sample in the last batch gets a different augmentation at each position.
  const per = 3 * 32 * 32;
  assert.notDeepEqual(a[3]!.images.subarray(0, per), a[3]!.images.subarray(per, 2 * per));
  // Batches started once the image shape is known are written by the workers in shared memory
  // (no copy on this thread), and the engine takes them as they are.
  for (const run of runs) assert.ok(run[3]!.images.buffer instanceof SharedArrayBuffer);
  const t = tensor(c[3]!.images, { shape: c[3]!.shape });
  assert.deepEqual(t.shape, [4, 3, 32, 32]);
  assert.deepEqual(t.data(), new Float32Array(a[3]!.images));
  t.dispose();
});

test('shared batch memory is bounded: released batches are reused, unreleased ones fall back to copies', async () => {
  const m = new BatchMemory(2);
  const a = m.take(100)!,
    b = m.take(100)!;
  assert.equal(m.take(100), null, 'all out');
  m.give(a);
  assert.equal(m.take(60), a, 'a smaller request reuses a bigger free buffer');
  m.give(a);
  m.give(b);
  const c = m.take(200)!;
  assert.ok(c.byteLength >= 200 && c !== a && c !== b, 'too-small free buffers make way for a new one');
  assert.equal(m.outstanding, 1);

  const epochs = async (
    loader: ImageLoader,
    release: boolean,
  ): Promise<Array<{ images: Float32Array; shared: boolean }>> => {
    const out: Array<{ images: Float32Array; shared: boolean }> = [];
    for (let e = 0; e < 3; e++) {
      for await (const x of loader.iterate(plan, e)) {
        const shared = x.images.buffer instanceof SharedArrayBuffer;
        assert.equal(
          typeof x.release === 'function',
          shared,
          'batches in shared memory, and only they, can be released',
        );
        out.push({ images: x.images.slice(), shared });
        if (release && x.release) {
          x.release();
          x.release();
          assert.equal(x.images.length, 0, 'images are gone once released');
        }
      }
    }
    return out;
  };
  const kept = new ImageLoader(samples, { pipeline: train, workers: 1, seed: 7, prefetch: 1 });
  const freed = new ImageLoader(samples, { pipeline: train, workers: 1, seed: 7, prefetch: 1 });
  try {
    const k = await epochs(kept, false),
      f = await epochs(freed, true);
    // Same pixels either way; released batches keep coming in shared memory once the shape is
    // known (after the first two, loaded together), unreleased ones stop at prefetch + 3 buffers.
    assert.deepEqual(
      f.map((x) => x.images),
      k.map((x) => x.images),
    );
    assert.deepEqual(
      f.map((x) => x.shared),
      [false, false, ...Array(f.length - 2).fill(true)],
    );
    assert.equal(k.filter((x) => x.shared).length, 4);
  } finally {
    await kept.close();
    await freed.close();
  }
});

test('augmentation depends on (seed, epoch, batch, position) only; load() agrees with iterate()', async () => {
  const loader = new ImageLoader(samples, { pipeline: train, workers: 2, seed: 7 });
  try {
    const e2 = await collect(loader, 2);
    const e3 = await collect(loader, 3);
    assert.notDeepEqual(e3[0]!.images, e2[0]!.images);
    assert.deepEqual(await loader.load(plan[1]!, 2, 1), e2[1]);
    const other = new ImageLoader(samples, { pipeline: train, workers: 0, seed: 8 });
    assert.notDeepEqual((await other.load(plan[1]!, 2, 1)).images, e2[1]!.images);
    await other.close();
    // Sample-level check against the pipeline itself.
    const one = await train.apply(samples[6]!, sampleRng(7, 2, 1, 2));
    assert.deepEqual(e2[1]!.images.subarray(2 * one.length, 3 * one.length), one);
    assert.equal(loader.inChannels, 3);
    assert.equal(loader.numClasses, 3);
  } finally {
    await loader.close();
  }
});

test(
  'a slice of a batch loaded at its position offset gets the images of the whole batch (data-parallel ' + 'ranks)',
  async () => {
    const loader = new ImageLoader(samples, { pipeline: train, workers: 1, seed: 7 });
    try {
      const whole = [3, 9, 0, 11, 5, 6, 1];
      const all = await loader.load(whole, 4, 2);
      const per = all.images.length / whole.length;
      const head = await loader.load(whole.slice(0, 3), 4, 2, 0);
      const tail = await loader.load(whole.slice(3), 4, 2, 3);
      assert.deepEqual(head.images, all.images.subarray(0, 3 * per));
      assert.deepEqual(tail.images, all.images.subarray(3 * per));
      assert.deepEqual([...head.labels, ...tail.labels], [...all.labels]);
      assert.throws(() => loader.load([1], 0, 0, -1), /positionOffset must be a non-negative integer/);
    } finally {
      await loader.close();
    }
  },
);

test('evaluation batches over a range cover exactly that shard', async () => {
  const loader = new ImageLoader(samples, { pipeline: evalPipe, workers: 1 });
  try {
    const got: Batch[] = [];
    for await (const b of loader.batches(2, { start: 3, end: 8 })) got.push(b);
    assert.deepEqual(
      got.map((b) => b.shape[0]),
      [2, 2, 1],
    );
    assert.deepEqual(
      got.flatMap((b) => [...b.indices]),
      [3, 4, 5, 6, 7],
    );
    assert.throws(() => loader.batches(2, { start: 5, end: 13 }), /range \[5, 13\) is not within \[0, 12\]/);
  } finally {
    await loader.close();
  }
});

test('evaluation batches cover every sample once, in order', async () => {
  const loader = new ImageLoader(samples, { pipeline: evalPipe, workers: 1 });
  try {
    const got: Batch[] = [];
    for await (const b of loader.batches(5)) got.push(b);
    assert.deepEqual(
      got.map((b) => b.shape[0]),
      [5, 5, 2],
    );
    assert.deepEqual(
      got.flatMap((b) => [...b.labels]),
      [...loader.labels],
    );
    const first = await evalPipe.apply(samples[0]!, sampleRng(0, 0, 0, 0));
    assert.deepEqual(got[0]!.images.subarray(0, first.length), first);
    assert.throws(() => loader.batches(0), /batchSize must be a positive integer/);
  } finally {
    await loader.close();
  }
});

test('caching encoded or decoded images changes nothing but the work done', async () => {
  const plain = new ImageLoader(samples, { pipeline: train, workers: 0, seed: 3 });
  const want = await collect(plain, 1);
  await plain.close();
  for (const cache of ['encoded', 'decoded'] as const) {
    const loader = new ImageLoader(samples, { pipeline: train, workers: 2, seed: 3, cache });
    try {
      await loader.preload(5);
      assert.equal(loader.cachedImages, N);
      assert.ok(loader.cachedBytes > 0);
      assert.deepEqual(await collect(loader, 1), want, cache);
    } finally {
      await loader.close();
    }
  }
  const capped = new ImageLoader(samples, { pipeline: train, workers: 0, cache: 'decoded', cacheMaxBytes: 10_000 });
  await capped.preload();
  assert.ok(capped.cachedBytes <= 10_000 && capped.cachedImages < N);
  await capped.close();
  const none = new ImageLoader(samples, { pipeline: train, workers: 0 });
  await assert.rejects(none.preload(), /set cache to 'encoded' or 'decoded'/);
  await none.close();
});

test('a missing or corrupt image fails with the list line and the file', async () => {
  const broken = samples.map((s) => ({ ...s }));
  broken[2] = { ...broken[2]!, path: path.join(tmp.dir, 'img/nope.jpg') };
  const corrupt = path.join(tmp.dir, 'img/corrupt.jpg');
  copyFileSync(samples[1]!.path, corrupt);
  writeFileSync(corrupt, Buffer.from('\xff\xd8\xff\xe0 truncated', 'latin1'));
  broken[6] = { ...broken[6]!, path: corrupt };
  for (const workers of [0, 2]) {
    const loader = new ImageLoader(broken, { pipeline: train, workers });
    try {
      await assert.rejects(
        loader.load([0, 1, 2], 0, 0),
        (e: Error) => e.message === `${listFile}:4: ${broken[2]!.path}: cannot read image: no such file`,
      );
      await assert.rejects(loader.load([6], 0, 0), (e: Error) =>
        e.message.startsWith(`${listFile}:8: ${corrupt}: cannot decode image:`),
      );
      // Through iterate(): the failing batch rejects, later prefetched ones are dropped quietly.
      await assert.rejects(collect(loader, 0), /nope\.jpg: cannot read image/);
      // A load that fails while nobody awaits it yet is not an unhandled rejection.
      const late = loader.load([2], 0, 0);
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(late, /nope\.jpg/);
    } finally {
      await loader.close();
    }
  }
});

test('skipBad drops unreadable images, logs each once and counts the skips', async () => {
  const broken = samples.map((s) => ({ ...s }));
  broken[1] = { ...broken[1]!, path: path.join(tmp.dir, 'img/gone.png') };
  const logs: string[] = [];
  const loader = new ImageLoader(broken, {
    pipeline: train,
    workers: 2,
    seed: 7,
    skipBad: true,
    log: (m) => logs.push(m),
  });
  try {
    const e0 = await collect(loader, 2);
    assert.deepEqual(e0[0]!.shape, [3, 3, 32, 32]);
    assert.deepEqual([...e0[0]!.indices], [0, 2, 3]);
    assert.deepEqual([...e0[0]!.labels], [0, 2, 0]);
    // Good samples keep the augmentation of their original position.
    const good = new ImageLoader(samples, { pipeline: train, workers: 0, seed: 7 });
    const full = await good.load(plan[0]!, 2, 0);
    await good.close();
    const per = 3 * 32 * 32;
    assert.deepEqual(e0[0]!.images.subarray(per, 2 * per), full.images.subarray(2 * per, 3 * per));
    assert.equal(loader.skipped, 1);
    await collect(loader, 3);
    assert.equal(loader.skipped, 2);
    assert.equal(logs.length, 1);
    assert.match(
      logs[0]!,
      new RegExp(
        `skipping unreadable image ${listFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: .*gone\\.png: cannot read ` +
          `image`,
      ),
    );
    assert.deepEqual([...loader.bad.keys()], [1]);
    // A batch of nothing but bad images is empty, not an error.
    const empty = await loader.load([1, 1], 4, 0);
    assert.deepEqual(empty.shape, [0, 3, 32, 32]);
  } finally {
    await loader.close();
  }
});

test('misuse fails clearly: bad indices, ragged sizes, closed loader, bad options', async () => {
  const loader = new ImageLoader(samples, { pipeline: new Pipeline([new Resize(20)]), workers: 0 });
  await assert.rejects(loader.load([0, 99], 0, 0), /index 99 at batch position 1 is outside 0\.\.11/);
  // 50×40 → 25×20 but 83×62 → 26×20.
  await assert.rejects(loader.load([0, 11], 0, 0), (e: Error) =>
    e.message.startsWith(`${listFile}:13: ${samples[11]!.path}: transformed to 3x20x26, but the batch is 3x20x25`),
  );
  // The same once batches go to shared memory sized for the last shape seen.
  await loader.load([0], 0, 0);
  await assert.rejects(loader.load([0, 11], 0, 1), (e: Error) =>
    e.message.startsWith(`${listFile}:13: ${samples[11]!.path}: transformed to 3x20x26, but the batch is 3x20x25`),
  );
  await assert.rejects(loader.load([11, 0], 0, 1), (e: Error) =>
    e.message.startsWith(`${listFile}:2: ${samples[0]!.path}: transformed to 3x20x25, but the batch is 3x20x26`),
  );
  await loader.close();
  await assert.rejects(loader.load([0], 0, 0), /closed/);
  assert.throws(() => new ImageLoader([], { pipeline: train }), /no samples/);
  assert.throws(
    () => new ImageLoader(samples, { pipeline: train, workers: -1 }),
    /workers must be a non-negative integer/,
  );
  assert.throws(() => new ImageLoader([{ path: 'x', label: -1 }], { pipeline: train }), /label -1/);
});

test('loaders with different pipelines can share one pool', async () => {
  const pool = createLoaderPool(2);
  const a = new ImageLoader(samples, { pipeline: train, pool, seed: 1 });
  const b = new ImageLoader(samples, { pipeline: evalPipe, pool });
  try {
    const [x, y] = await Promise.all([a.load([0, 1, 2], 0, 0), b.load([0, 1, 2], 0, 0)]);
    const a0 = new ImageLoader(samples, { pipeline: train, workers: 0, seed: 1 });
    const b0 = new ImageLoader(samples, { pipeline: evalPipe, workers: 0 });
    assert.deepEqual(x, await a0.load([0, 1, 2], 0, 0));
    assert.deepEqual(y, await b0.load([0, 1, 2], 0, 0));
    await Promise.all([a0.close(), b0.close()]);
    await a.close();
    // Closing a loader leaves a shared pool running.
    assert.equal((await b.load([3], 0, 0)).shape[0], 1);
  } finally {
    await b.close();
    await pool.close();
  }
});

test(
  'a crashing worker rejects its jobs with a fatal error naming the file; a pool that keeps dying gives ' + 'up',
  async () => {
    const script = path.join(tmp.dir, 'crash-worker.mjs');
    writeFileSync(
      script,
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (j) => { if " +
        "(j.path.includes('boom')) process.exit(3); parentPort.postMessage({ id: j.id, ok: false, message: 'fine' " +
        '}); });\n',
    );
    const pool = new WorkerPool({ size: 1, script: new URL(`file://${script}`), workerData: {} });
    const job = (p: string) => ({
      id: 0,
      pipeline: '{}',
      path: p,
      rng: { s: [1, 2, 3, 4] as [number, number, number, number] },
      keep: 'none' as const,
    });
    try {
      await assert.rejects(
        pool.run(job('/data/boom.jpg')),
        (e: Error) =>
          e instanceof LoaderFatalError &&
          /data worker 0 exited with code 3 while loading \/data\/boom\.jpg/.test(e.message),
      );
      // The worker is replaced: later jobs run.
      assert.deepEqual(await pool.run(job('/data/ok.jpg')), { id: 2, ok: false, message: 'fine' });
    } finally {
      await pool.close();
    }
    const dead = path.join(tmp.dir, 'dead-worker.mjs');
    writeFileSync(dead, "throw new Error('cannot start');\n");
    const deadPool = new WorkerPool({ size: 1, script: new URL(`file://${dead}`), workerData: {} });
    try {
      await assert.rejects(deadPool.run(job('/x.jpg')), /cannot start/);
      let last: Error | undefined;
      for (let i = 0; i < 5; i++) await deadPool.run(job('/x.jpg')).catch((e: Error) => (last = e));
      assert.match(last!.message, /data workers keep dying \(last: crashed: cannot start\)/);
    } finally {
      await deadPool.close();
    }
  },
);
