// Benchmark (not a test): a bounded loopback load test of `dml serve` on a 10,000-item gallery.
//
//   npx tsc -p tsconfig.json && node dist/bench/serve.js [--n 10000] [--dim 512] [--requests 2000]
//        [--concurrency 16] [--image-requests 100] [--image-concurrency 4] [--workers 1] [--no-lancedb] [--json]
//        [--batch-window-ms 10] [--images-only] [--threads N (0: libtorch's own default)]
//
// The gallery's index holds random unit vectors (the model is not trained, so real embeddings
// would be no more telling); its list file cycles over 50 small PNGs so image serving and uploads
// work. An untrained ResNet-18 (3×3 stem, 32×32 input) embeds the uploaded queries. Each scenario
// sends a fixed number of requests from a fixed number of concurrent loops over keep-alive
// connections to 127.0.0.1 only, and reports throughput and latency percentiles. The load runs in
// a worker thread of its own so that the client does not share the server's event loop.
// The image scenario runs twice against the exact index: with the server's batching window and
// with none (--batch-window-ms 0: only the uploads decoded in the same turn share a forward, the
// server's behaviour before the window existed); the last column is the mean number of uploads per
// forward pass, from /api/stats.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { startServer } from '../src/server/index.js';
import { Rng } from '../src/ml/random.js';
import { writeCheckpointInWorker, type CheckpointSpec } from '../test/server/make-checkpoint.js';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    dim: { type: 'string', default: '512' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    'image-requests': { type: 'string', default: '100' },
    'image-concurrency': { type: 'string', default: '4' },
    workers: { type: 'string', default: '1' },
    'no-lancedb': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'batch-window-ms': { type: 'string', default: '10' },
    threads: { type: 'string' },
    'images-only': { type: 'boolean', default: false },
  },
});
const N = Number(flags.n),
  DIM = Number(flags.dim),
  REQUESTS = Number(flags.requests),
  CONC = Number(flags.concurrency);
const IMG_REQUESTS = Number(flags['image-requests']),
  IMG_CONC = Number(flags['image-concurrency']),
  WORKERS = Number(flags.workers);
const THREADS = flags.threads === undefined ? {} : { threads: Number(flags.threads) };
const WINDOW_MS = Number(flags['batch-window-ms']),
  IMAGES_ONLY = flags['images-only'];
const SIZE = 32,
  FILES = 50,
  CLASSES = 100;

interface Result {
  scenario: string;
  index: string;
  requests: number;
  concurrency: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Image scenarios: uploads per forward pass. */
  batch?: number;
}

/** The test suite's checkpoint writer, in a thread of its own (this thread never uses the engine). */
async function makeCheckpoint(file: string): Promise<void> {
  const spec: CheckpointSpec = {
    file,
    inChannels: 3,
    imageSize: SIZE,
    numFeatures: DIM,
    numClasses: 10,
    epoch: 1,
    seed: 1,
  };
  await writeCheckpointInWorker(spec);
}

/** Random unit vectors (normals from the library's Rng, normalised), deterministic. */
function randomEmbeddings(n: number, dim: number): Float32Array {
  const rng = new Rng(0x9e3779b9);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = rng.normal();
      out[i * dim + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j]! /= norm;
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `total` requests from `conc` loops; each loop waits for its answer before sending the next. */
async function load(
  scenario: string,
  index: string,
  total: number,
  conc: number,
  send: (i: number) => Promise<Response>,
): Promise<Result> {
  const lat: number[] = [];
  let next = 0,
    errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        try {
          const r = await send(i);
          await r.arrayBuffer();
          if (!r.ok) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    scenario,
    index,
    requests: total,
    concurrency: conc,
    errors,
    seconds: r2(seconds),
    rps: r2(total / seconds),
    p50: r2(percentile(lat, 50)),
    p90: r2(percentile(lat, 90)),
    p99: r2(percentile(lat, 99)),
    max: r2(lat[lat.length - 1]!),
  };
}

interface ClientJob {
  url: string;
  index: string;
  images: string[];
  /** 64 gallery vectors (row-major) for the vector-query bodies. */
  vectors: Float32Array;
  /** The server's batching window, for the scenario's name. */
  windowMs: number;
  imagesOnly: boolean;
}

/** The uploads-per-forward average the server reports, over the uploads since `before`. */
async function imageBatch(u: string, before: { imageQueries: number; forwards: number }): Promise<number> {
  const q = (
    (await (await fetch(`${u}/api/stats`)).json()) as { queue: { imageQueries: number; imageBatchMean: number } }
  ).queue;
  const forwards = q.imageQueries / q.imageBatchMean;
  return Math.round(((q.imageQueries - before.imageQueries) / (forwards - before.forwards)) * 100) / 100;
}

async function imageCounters(u: string): Promise<{ imageQueries: number; forwards: number }> {
  const q = (
    (await (await fetch(`${u}/api/stats`)).json()) as { queue: { imageQueries: number; imageBatchMean: number | null } }
  ).queue;
  return { imageQueries: q.imageQueries, forwards: q.imageBatchMean ? q.imageQueries / q.imageBatchMean : 0 };
}

/** Runs every scenario against one server; executed in the client worker thread. */
async function scenarios(job: ClientJob): Promise<Result[]> {
  const { url: u, index } = job;
  const images = job.images.map((f) => new Uint8Array(readFileSync(f)));
  const out: Result[] = [];
  let s = 12345;
  const rnd = (m: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % m;
  };
  // Warm-up: first requests pay for lazy initialisation (connections, sharp, libtorch kernels).
  for (let i = 0; i < 20; i++) await (await fetch(`${u}/api/query?id=${i}&k=10`)).arrayBuffer();
  for (let i = 0; i < 3; i++)
    await (
      await fetch(`${u}/api/query?k=10`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images[i]! })
    ).arrayBuffer();
  const imageScenario = async (): Promise<void> => {
    const before = await imageCounters(u);
    const r = await load(
      `POST /api/query image (PNG ${SIZE}×${SIZE}), window ${job.windowMs} ms`,
      index,
      IMG_REQUESTS,
      IMG_CONC,
      (i) =>
        fetch(`${u}/api/query?k=10`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: images[i % images.length]!,
        }),
    );
    out.push({ ...r, batch: await imageBatch(u, before) });
  };
  if (job.imagesOnly) {
    await imageScenario();
    return out;
  }
  if (index === 'exact') out.push(await load('GET /api/health', index, REQUESTS, CONC, () => fetch(`${u}/api/health`)));
  out.push(
    await load('GET /api/query?id (k=10, cosine)', index, REQUESTS, CONC, () =>
      fetch(`${u}/api/query?id=${rnd(N)}&k=10`),
    ),
  );
  if (index === 'exact')
    out.push(
      await load('GET /api/query?id (k=10, l2)', index, REQUESTS, CONC, () =>
        fetch(`${u}/api/query?id=${rnd(N)}&k=10&metric=l2`),
      ),
    );
  const bodies = Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({ vector: Array.from(job.vectors.subarray(i * DIM, (i + 1) * DIM)), k: 10 }),
  );
  out.push(
    await load('POST /api/query/vector (k=10)', index, REQUESTS, CONC, (i) =>
      fetch(`${u}/api/query/vector`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i % bodies.length]!,
      }),
    ),
  );
  await imageScenario();
  if (index === 'exact')
    out.push(await load('GET /api/image/:id', index, REQUESTS, CONC, () => fetch(`${u}/api/image/${rnd(N)}`)));
  return out;
}

/** The load generator, in a thread of its own. */
async function runClient(job: ClientJob): Promise<Result[]> {
  const w = new Worker(new URL(import.meta.url), { workerData: { role: 'client', job }, argv: process.argv.slice(2) });
  return new Promise<Result[]>((resolve, reject) => {
    let got: Result[] | null = null;
    w.on('message', (r: Result[]) => {
      got = r;
    });
    w.on('error', reject);
    w.on('exit', (c) => (got ? resolve(got) : reject(new Error(`load client exited with ${c}`))));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-bench-serve-'));
  try {
    const ckpt = path.join(dir, 'bench.safetensors');
    await makeCheckpoint(ckpt);
    mkdirSync(path.join(dir, 'img'));
    const images: string[] = [];
    for (let f = 0; f < FILES; f++) {
      const raw = Buffer.alloc(SIZE * SIZE * 3);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * (f + 3) + f * 41) & 255;
      const png = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
        .png()
        .toBuffer();
      writeFileSync(path.join(dir, 'img', `${f}.png`), png);
      images.push(path.join(dir, 'img', `${f}.png`));
    }
    const list = path.join(dir, 'gallery.txt');
    writeFileSync(list, Array.from({ length: N }, (_, i) => `img/${i % FILES}.png,${i % CLASSES}`).join('\n') + '\n');
    const embeddings = randomEmbeddings(N, DIM);
    const results: Result[] = [];
    const common = {
      checkpoint: ckpt,
      gallery: list,
      embeddings,
      port: 0,
      host: '127.0.0.1',
      workers: WORKERS,
      maxQueue: 1024,
      batchWindowMs: WINDOW_MS,
      ...THREADS,
    };
    const vectors = embeddings.slice(0, 64 * DIM);
    const job = { index: 'exact', images, vectors, windowMs: WINDOW_MS, imagesOnly: IMAGES_ONLY };
    const exact = await startServer({ ...common, index: 'exact' });
    try {
      results.push(...(await runClient({ ...job, url: exact.url })));
    } finally {
      await exact.close();
    }
    if (WINDOW_MS > 0) {
      const unbatched = await startServer({ ...common, index: 'exact', batchWindowMs: 0 });
      try {
        results.push(...(await runClient({ ...job, url: unbatched.url, windowMs: 0, imagesOnly: true })));
      } finally {
        await unbatched.close();
      }
    }
    if (!flags['no-lancedb'] && !IMAGES_ONLY) {
      const lance = await startServer({ ...common, index: 'lancedb', indexCache: path.join(dir, 'lance') });
      try {
        results.push(...(await runClient({ ...job, index: 'lancedb', url: lance.url })));
      } finally {
        await lance.close();
      }
    }
    const env = {
      gallery: N,
      dim: DIM,
      workers: WORKERS,
      cpus: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
    };
    if (flags.json) {
      console.log(JSON.stringify({ env, results }));
      return;
    }
    console.log(
      `dml serve on 127.0.0.1: ${N} gallery items × ${DIM}-d, ${WORKERS} inference worker(s), ${env.cpus} CPUs (` +
        `${env.cpu}), Node ${env.node}`,
    );
    const head = [
      'scenario',
      'index',
      'requests',
      'conc',
      'errors',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'per forward',
    ];
    const rows = results.map((r) => [
      r.scenario,
      r.index,
      String(r.requests),
      String(r.concurrency),
      String(r.errors),
      r.rps.toFixed(0),
      r.p50.toFixed(2),
      r.p90.toFixed(2),
      r.p99.toFixed(2),
      r.max.toFixed(2),
      r.batch?.toFixed(2) ?? '',
    ]);
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows])
      console.log(r.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else if ((workerData as { role?: string } | null)?.role === 'client')
  parentPort!.postMessage(await scenarios((workerData as { job: ClientJob }).job));
