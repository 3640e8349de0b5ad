// Inference worker: loads the addon and the checkpoint once, then decodes images (sharp, in
// parallel, off the engine lock), embeds them (micro-batched: queries that finish decoding in the
// same turn share one forward pass) and searches the exact index. Every engine call runs under
// the process-wide EngineLock (see engine-lock.ts for why).
import { parentPort, workerData } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { native } from '../engine/native.js';
import { tensor, tidy, noGrad, saveTensors, loadTensors, setNumThreads } from '../engine/index.js';
import { openRun, type Run } from '../ml/run/open-run.js';
import { inferenceCost } from '../ml/run/memory-budget.js';
import { fixedInputSize } from '../ml/models/factory.js';
import { Pipeline } from '../ml/data/pipeline.js';
import { readImageBytes } from '../ml/data/image.js';
import { Rng } from '../ml/random.js';
import { defaultQueryPixels } from '../ml/data/limits.js';
import { EngineLock, guardNativeDispose } from './engine-lock.js';
import { ExactIndex, type Metric } from './exact-index.js';
import { CACHE_FORMAT, CACHE_META_KEY } from './index-cache.js';
import { inputSizeOf, preprocessSpec } from './preprocess.js';
import type {
  GalleryInput,
  Hits,
  ModelInfo,
  WorkerFailure,
  WorkerInit,
  WorkerMessage,
  WorkerRequest,
  WorkerResult,
} from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const lock = new EngineLock(init.lock);
guardNativeDispose(native, lock);
// Every query image is new: libvips' operation cache would only hold memory.
sharp.cache(false);

class Failure extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(failure.message);
  }
}
const imageFailure = (code: 'image_too_large' | 'undecodable_image', message: string): Failure =>
  new Failure({ kind: 'image', code, message });

let loaded: Run;
let pipeline: Pipeline;
let info: ModelInfo;
let index: ExactIndex | null = null;
const rng = new Rng(0); // test-time transforms draw nothing; Pipeline wants one anyway

try {
  lock.run(() => {
    if (init.threads > 0) setNumThreads(init.threads);
    loaded = openRun(init.checkpoint, {
      ...(init.notes === false ? { note: () => undefined } : {}),
      ...(init.device ? { device: init.device } : {}),
    });
  });
  const o = loaded!.model.options;
  // A ViT takes one image size only: its own, whatever the overrides say.
  const fixed = fixedInputSize(loaded!.model);
  const spec = preprocessSpec(
    loaded!.config,
    o.inChannels,
    init.maxPixels,
    fixed !== undefined ? { ...init.overrides, imageSize: fixed } : init.overrides,
  );
  pipeline = Pipeline.fromSpec(spec);
  info = {
    arch: loaded!.config.model.arch,
    dim: o.numFeatures,
    inChannels: o.inChannels,
    numClasses: o.numClasses,
    epoch: loaded!.epoch,
    dataKind: loaded!.config.data.kind,
    preprocess: JSON.stringify(spec),
    inputSize: inputSizeOf(spec),
    maxQueryPixels: 0,
    memory: { fixed: 0, perImage: 0 },
  };
  info.memory = inferenceCost(loaded!, Math.max(...info.inputSize));
  info.maxQueryPixels = Math.min(init.maxPixels, init.maxQueryPixels ?? defaultQueryPixels(...info.inputSize));
  post({ type: 'ready', info });
} catch (e) {
  post({ type: 'init-error', message: (e as Error).message });
}

function post(m: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Decodes and transforms one image to CHW floats, telling huge images from broken ones. */
async function decode(bytes: Uint8Array, what: string, upload = false): Promise<Float32Array> {
  let width: number | undefined, height: number | undefined;
  try {
    // Header only: a decompression bomb is refused before libvips allocates anything.
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (e) {
    throw imageFailure('undecodable_image', `${what}: not a readable image: ${errMsg(e)}`);
  }
  if (!width || !height) throw imageFailure('undecodable_image', `${what}: the image has no dimensions`);
  if (width * height > init.maxPixels) {
    throw imageFailure(
      'image_too_large',
      `${what}: ${width}×${height} = ${width * height} pixels exceeds the limit of ${init.maxPixels}`,
    );
  }
  if (upload && width * height > info.maxQueryPixels) {
    const [h, w] = info.inputSize;
    throw imageFailure(
      'image_too_large',
      `${what}: ${width}×${height} = ${width * height} pixels exceeds this server's upload limit of ` +
        `${info.maxQueryPixels} ` +
        `(${init.maxQueryPixels === null ? `derived from the model's ${h}×${w} input; ` : ''}dml serve --max-pixels ` +
        `sets it); send a smaller image`,
    );
  }
  let img;
  try {
    const decoded = await pipeline.decode(bytes);
    img = pipeline.finish(decoded, rng);
  } catch (e) {
    const m = errMsg(e);
    throw imageFailure(
      /pixel limit/i.test(m) ? 'image_too_large' : 'undecodable_image',
      `${what}: cannot decode: ${m}`,
    );
  }
  const [h, w] = info.inputSize;
  if (img.channels !== info.inChannels || img.height !== h || img.width !== w) {
    throw new Failure({
      kind: 'internal',
      message:
        `${what}: preprocessing gave ${img.channels}×${img.height}×${img.width}, the model takes ` +
        `${info.inChannels}×${h}×${w}`,
    });
  }
  return img.data;
}

/** One forward pass over CHW images; returns their features row-major. */
function embedBatch(images: readonly Float32Array[]): Float32Array {
  const [h, w] = info.inputSize;
  const plane = info.inChannels * h * w;
  const x = new Float32Array(images.length * plane);
  images.forEach((img, i) => x.set(img, i * plane));
  return lock.run(() =>
    noGrad(() =>
      tidy(() => {
        const out = loaded.model.forward(tensor(x, { shape: [images.length, info.inChannels, h, w] }));
        return out.features.contiguous().data() as Float32Array;
      }),
    ),
  );
}

// Micro-batching of query images. A forward pass blocks this thread, and each decode needs
// several turns of its event loop, so "whatever finished decoding in this turn" is mostly one image:
// the batch instead closes when every query being decoded here has joined it, when it is full, or
// when the oldest query has waited batchWindowMs, whichever comes first.
interface Waiting {
  image: Float32Array;
  resolve: (v: { vector: Float32Array; batch: number }) => void;
  reject: (e: unknown) => void;
}
const waiting: Waiting[] = [];
let decoding = 0;
let flushScheduled = false;
let windowTimer: NodeJS.Timeout | null = null;

/** The query's features, and how many queries shared its forward pass. */
function embedQuery(image: Float32Array): Promise<{ vector: Float32Array; batch: number }> {
  return new Promise((resolve, reject) => {
    waiting.push({ image, resolve, reject });
    scheduleFlush();
  });
}

function scheduleFlush(): void {
  if (waiting.length === 0 || flushScheduled) return;
  if (decoding === 0 || waiting.length >= init.maxBatch || init.batchWindowMs <= 0) {
    flushScheduled = true;
    if (windowTimer) {
      clearTimeout(windowTimer);
      windowTimer = null;
    }
    setImmediate(flush);
  } else if (!windowTimer) {
    windowTimer = setTimeout(() => {
      windowTimer = null;
      if (!flushScheduled) {
        flushScheduled = true;
        flush();
      }
    }, init.batchWindowMs);
  }
}

/** Decodes a query image, counted so that the batch it joins knows whether to wait for more. */
async function decodeQuery(bytes: Uint8Array): Promise<Float32Array> {
  decoding++;
  try {
    return await decode(bytes, 'image', true);
  } finally {
    decoding--;
    // A failed decode may have been the one the waiting batch was waiting for.
    queueMicrotask(scheduleFlush);
  }
}

function flush(): void {
  flushScheduled = false;
  while (waiting.length > 0) {
    const batch = waiting.splice(0, Math.max(1, init.maxBatch));
    try {
      const f = embedBatch(batch.map((b) => b.image));
      batch.forEach((b, i) => b.resolve({ vector: f.slice(i * info.dim, (i + 1) * info.dim), batch: batch.length }));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }
}

function requireIndex(): ExactIndex {
  if (!index) throw new Failure({ kind: 'internal', message: 'the exact index is not loaded in this worker' });
  return index;
}

// Micro-batching of searches: queries waiting in the same turn share one GEMM per metric
// (8 queries cost about twice one, not eight times).
interface Searching {
  vector: Float32Array;
  k: number;
  metric: Metric;
  resolve: (h: Hits) => void;
  reject: (e: unknown) => void;
}
const searching: Searching[] = [];
let searchScheduled = false;

function search(vector: Float32Array, k: number, metric: Metric): Promise<Hits> {
  const ix = requireIndex();
  if (vector.length !== ix.dim)
    throw new Failure({
      kind: 'bad',
      message: `vector has ${vector.length} values, the index holds ${ix.dim}-d embeddings`,
    });
  return new Promise((resolve, reject) => {
    searching.push({ vector, k, metric, resolve, reject });
    if (!searchScheduled) {
      searchScheduled = true;
      setImmediate(flushSearches);
    }
  });
}

function flushSearches(): void {
  searchScheduled = false;
  const all = searching.splice(0);
  for (const metric of ['cosine', 'l2'] as const) {
    const group = all.filter((s) => s.metric === metric);
    for (let at = 0; at < group.length; at += 64) {
      const batch = group.slice(at, at + 64);
      try {
        const ix = requireIndex();
        const q = new Float32Array(batch.length * ix.dim);
        batch.forEach((b, i) => q.set(b.vector, i * ix.dim));
        const r = lock.run(() => ix.search(q, batch.length, Math.max(...batch.map((b) => b.k)), metric));
        batch.forEach((b, i) => {
          const n = Math.min(b.k, r.k);
          b.resolve({ ids: r.ids.slice(i * r.k, i * r.k + n), scores: r.scores.slice(i * r.k, i * r.k + n) });
        });
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
  }
}

async function inputBytes(input: GalleryInput): Promise<{ bytes: Uint8Array; what: string }> {
  if ('bytes' in input) return { bytes: input.bytes, what: 'image' };
  try {
    return { bytes: await readImageBytes(input.file), what: `${input.where}: ${input.file}` };
  } catch (e) {
    // The read error starts with the file; a list entry's line goes in front of it.
    const m = errMsg(e);
    throw imageFailure(
      'undecodable_image',
      input.where === input.file || m.startsWith(`${input.where}: `) ? m : `${input.where}: ${m}`,
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function handle(req: WorkerRequest): Promise<{ result: WorkerResult; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'embed': {
      const images = await Promise.all(
        req.inputs.map(async (inp) => {
          const { bytes, what } = await inputBytes(inp);
          return decode(bytes, what);
        }),
      );
      const features = embedBatch(images);
      return { result: { op: 'embed', features, count: images.length }, transfer: [features.buffer as ArrayBuffer] };
    }
    case 'set-index': {
      lock.run(() => {
        index?.dispose();
        index = null;
        index = new ExactIndex(new Float32Array(req.data, 0, req.size * req.dim), req.size, req.dim, req.chunkRows);
      });
      return { result: { op: 'set-index' }, transfer: [] };
    }
    case 'query-image': {
      if (init.debugDelayMs > 0) await sleep(init.debugDelayMs);
      const { vector, batch } = await embedQuery(await decodeQuery(req.bytes));
      const hits = req.search ? await search(vector, req.k, req.metric) : null;
      return { result: { op: 'query-image', vector, hits, batch }, transfer: [] };
    }
    case 'query-vector': {
      if (init.debugDelayMs > 0) await sleep(init.debugDelayMs);
      return { result: { op: 'query-vector', hits: await search(req.vector, req.k, req.metric) }, transfer: [] };
    }
    case 'vector-of': {
      const ix = requireIndex();
      return { result: { op: 'vector-of', vector: lock.run(() => ix.vector(req.galleryId)) }, transfer: [] };
    }
    case 'load-cache': {
      const r = lock.run(() =>
        tidy(() => {
          const { tensors, metadata } = loadTensors(req.file, { format: 'embeddings' });
          const e = tensors.get('embeddings');
          if (!e) throw new Failure({ kind: 'bad', message: `${req.file} has no 'embeddings' tensor` });
          if (e.dtype !== 'float32')
            throw new Failure({ kind: 'bad', message: `${req.file}: embeddings are ${e.dtype}, expected float32` });
          return {
            data: e.contiguous().data() as Float32Array,
            shape: e.shape,
            meta: metadata[CACHE_META_KEY] ?? null,
          };
        }),
      );
      return { result: { op: 'load-cache', ...r }, transfer: [r.data.buffer as ArrayBuffer] };
    }
    case 'save-cache': {
      mkdirSync(path.dirname(path.resolve(req.file)), { recursive: true });
      const data = new Float32Array(req.data, 0, req.size * req.dim).slice();
      lock.run(() =>
        tidy(() => {
          const t = tensor(data, { shape: [req.size, req.dim] });
          saveTensors(req.file, new Map([['embeddings', t]]), { [CACHE_META_KEY]: req.meta, format: CACHE_FORMAT });
        }),
      );
      return { result: { op: 'save-cache' }, transfer: [] };
    }
  }
}

port.on('message', (m: WorkerRequest & { id: number }) => {
  handle(m).then(
    ({ result, transfer }) => post({ type: 'reply', id: m.id, ok: true, result }, transfer),
    (e: unknown) =>
      post({
        type: 'reply',
        id: m.id,
        ok: false,
        failure: e instanceof Failure ? e.failure : { kind: 'internal', message: errMsg(e) },
      }),
  );
});
