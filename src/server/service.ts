// The retrieval service behind the HTTP API: the gallery, the inference workers, the index (exact
// in the workers, or LanceDB here) and the admission limiter. Transport-agnostic: http.ts maps
// its results and ApiErrors to responses.
import { availableThreads } from '../engine/threads.js';
import { resolveCheckpoint } from '../ml/run/checkpoint-path.js';
import { checkMemoryBudget, memoryLimit, type MemoryEstimate } from '../ml/run/memory-budget.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiError } from './errors.js';
import { loadGallery, galleryFingerprint, type Gallery, type GalleryItem } from './gallery.js';
import {
  corruptReason,
  embeddingsSha256,
  fileSha256,
  makeCacheMeta,
  staleReason,
  type CacheMeta,
} from './index-cache.js';
import { LanceIndex } from './lance-index.js';
import { Limiter, type LimiterStats } from './limiter.js';
import { InferencePool } from './pool.js';
import type { Metric } from './exact-index.js';
import type { Hits, ModelInfo, WorkerResult } from './protocol.js';

export type IndexKind = 'exact' | 'lancedb';

export interface RetrievalOptions {
  checkpoint: string;
  /** A `path,label` list file or an image-folder tree. */
  gallery: string;
  index?: IndexKind;
  /** exact: a .safetensors file of gallery embeddings; lancedb: the database folder. Reused when still valid. */
  indexCache?: string;
  /** Inference worker threads (default 1; engine calls are serialised across them, see engine-lock.ts). */
  workers?: number;
  /** Inference jobs running at once (default 8 per worker: concurrent searches share one GEMM). */
  maxConcurrent?: number;
  /** Jobs that may wait for a slot before requests are refused with 503 (default 32). */
  maxQueue?: number;
  /** libtorch intra-op threads (default: availableThreads(), every core; 0: libtorch's own default). */
  threads?: number;
  /** Where the workers' model runs (resolveDevice's answer; default the CPU). */
  device?: 'cpu' | `cuda:${number}`;
  /**
   * Largest image accepted, in pixels; larger ones get 422. Default: 40 million for gallery images,
   * and for uploads 256 × the model's input pixels within [4, 40] million (defaultQueryPixels).
   * Given, it is the limit of both.
   */
  maxPixels?: number;
  imageSize?: number;
  resize?: number;
  /** Gallery images per forward pass while building the index (default 32). */
  embedBatch?: number;
  /** Gallery rows per similarity block in exact search (default 16384). */
  chunkRows?: number;
  /** Query images that may share one forward pass (default 16). */
  maxBatch?: number;
  /**
   * Host memory the workers' forward passes may need, MiB (default 0: 90% of the machine's or the
   * cgroup's memory); a CPU server over it is refused before the gallery is embedded.
   */
  memoryLimitMiB?: number;
  /**
   * Longest a decoded query image waits for the queries still being decoded beside it, so that they
   * share one forward pass (default 10 ms; 0: only those ready in the same turn).
   */
  batchWindowMs?: number;
  /** lancedb: build an IVF-PQ index from this many gallery items (default 100,000). */
  lanceAnnThreshold?: number;
  /** Precomputed gallery embeddings (gallery size × model dim), e.g. for benchmarks; skips embedding. */
  embeddings?: Float32Array;
  /** A request waiting longer than this for its inference gets 504 (default 30 s). */
  jobTimeoutMs?: number;
  /** Test hook: each inference waits this long in its worker. */
  debugDelayMs?: number;
  log?: (line: string) => void;
}

export interface Neighbour {
  /** Gallery id (index into the gallery list). */
  id: number;
  /** Path relative to the gallery's folder. */
  path: string;
  label: string;
  /** Cosine similarity (metric cosine, higher is closer) or Euclidean distance (metric l2, lower is closer). */
  score: number;
  /** 1 − cosine similarity, or the Euclidean distance. */
  distance: number;
  /** Whether the item shares the query's class; present when the query's class is known. */
  sameClass?: boolean;
  imageUrl: string;
}

export interface QueryResponse {
  neighbours: Neighbour[];
  /** The query's class: the gallery item's label for id queries, the `label` given with an upload. */
  queryLabel?: string;
  query: { kind: 'image' | 'id' | 'vector'; id?: number; path?: string };
  metric: Metric;
  k: number;
  tookMs: number;
}

export interface QueryOptions {
  k: number;
  metric: Metric;
  /** For uploads: the query's class, to mark neighbours of the same class. */
  label?: string;
  signal?: AbortSignal;
}

export interface ServiceStats {
  gallery: { source: string; kind: 'list' | 'folder'; size: number; classes: number };
  model: {
    arch: string;
    dim: number;
    inChannels: number;
    inputSize: [number, number];
    numClasses: number;
    checkpoint: string;
    epoch: number;
    dataKind: string;
    maxQueryPixels: number;
  };
  index: {
    kind: IndexKind;
    size: number;
    dim: number;
    approximate: boolean;
    cache: string | null;
    builtFrom: 'cache' | 'embedded' | 'provided';
    buildSeconds: number;
  };
  queue: LimiterStats & {
    workers: number;
    workerInflight: number;
    workerRestarts: number;
    jobTimeoutMs: number;
    /** Uploaded query images embedded so far, and how many shared a forward pass on average. */
    imageQueries: number;
    imageBatchMean: number | null;
    batchWindowMs: number;
    /** libtorch intra-op threads of each worker (0: libtorch's own default). */
    threads: number;
  };
  uptimeSeconds: number;
}

const DEFAULTS = {
  index: 'exact' as IndexKind,
  workers: 1,
  maxQueue: 32,
  threads: availableThreads(),
  maxPixels: 40_000_000,
  embedBatch: 32,
  chunkRows: 16384,
  maxBatch: 16,
  batchWindowMs: 10,
  lanceAnnThreshold: 100_000,
  jobTimeoutMs: 30_000,
  debugDelayMs: 0,
};

export class RetrievalService {
  readonly gallery: Gallery;
  readonly limiter: Limiter;
  readonly #pool: InferencePool;
  readonly #o: RetrievalOptions & typeof DEFAULTS;
  readonly #started = Date.now();
  /** exact: every gallery embedding (also handed to the workers' indexes). */
  #exact: Float32Array | null = null;
  #lance: LanceIndex | null = null;
  #tempDir: string | null = null;
  #builtFrom: 'cache' | 'embedded' | 'provided' = 'embedded';
  #imageQueries = 0;
  /** Σ 1/(queries sharing the forward) over image queries: the number of forward passes they took. */
  #imageForwards = 0;
  #buildSeconds = 0;
  #closed = false;

  private constructor(gallery: Gallery, pool: InferencePool, o: RetrievalOptions & typeof DEFAULTS) {
    this.gallery = gallery;
    this.#pool = pool;
    this.#o = o;
    this.limiter = new Limiter(o.maxConcurrent ?? 8 * o.workers, o.maxQueue);
  }

  /** Reads the gallery, starts the workers, and builds (or reloads) the index. */
  static async create(options: RetrievalOptions): Promise<RetrievalService> {
    const o = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as RetrievalOptions & typeof DEFAULTS;
    const log = o.log ?? (() => undefined);
    if (o.index !== 'exact' && o.index !== 'lancedb')
      throw new Error(`unknown index kind '${String(o.index)}' (exact or lancedb)`);
    o.checkpoint = resolveCheckpoint(o.checkpoint);
    const gallery = loadGallery(o.gallery);
    log(`gallery ${o.gallery}: ${gallery.items.length} images in ${gallery.classNames.length} classes`);
    const pool = await InferencePool.start(o.workers, {
      checkpoint: o.checkpoint,
      overrides: { ...(o.imageSize ? { imageSize: o.imageSize } : {}), ...(o.resize ? { resize: o.resize } : {}) },
      maxPixels: o.maxPixels,
      maxQueryPixels: options.maxPixels ?? null,
      threads: o.threads,
      ...(o.device ? { device: o.device } : {}),
      maxBatch: o.maxBatch,
      batchWindowMs: o.batchWindowMs,
      debugDelayMs: o.debugDelayMs,
    });
    const svc = new RetrievalService(gallery, pool, o);
    try {
      const info = pool.info;
      if ((o.device ?? 'cpu') === 'cpu') checkServerMemory(info, o);
      log(
        `model ${info.arch} (epoch ${info.epoch}): ${info.inChannels}×${info.inputSize.join('×')} → ${info.dim}-d, ` +
          `${o.workers} worker(s)`,
      );
      const t0 = performance.now();
      if (o.index === 'exact') await svc.#buildExact();
      else await svc.#buildLance();
      svc.#buildSeconds = (performance.now() - t0) / 1000;
      log(`index ${o.index} ready (${svc.#builtFrom}, ${svc.#buildSeconds.toFixed(1)} s)`);
    } catch (e) {
      await svc.close();
      throw e;
    }
    return svc;
  }

  get info(): ModelInfo {
    return this.#pool.info;
  }

  async #expectedMeta(): Promise<CacheMeta> {
    return makeCacheMeta({
      checkpointSha256: await fileSha256(this.#o.checkpoint),
      preprocess: this.info.preprocess,
      galleryFingerprint: galleryFingerprint(this.gallery),
      gallery: this.gallery,
      dim: this.info.dim,
    });
  }

  #provided(): Float32Array | null {
    const e = this.#o.embeddings;
    if (!e) return null;
    const want = this.gallery.items.length * this.info.dim;
    if (e.length !== want)
      throw new Error(
        `embeddings: ${e.length} floats given, the gallery needs ${this.gallery.items.length} × ${this.info.dim}`,
      );
    this.#builtFrom = 'provided';
    return e;
  }

  async #buildExact(): Promise<void> {
    const n = this.gallery.items.length,
      dim = this.info.dim;
    const shared = new Float32Array(new SharedArrayBuffer(n * dim * 4));
    const log = this.#o.log ?? (() => undefined);
    const provided = this.#provided();
    const cache = this.#o.indexCache;
    let meta: CacheMeta | null = null;
    if (provided) shared.set(provided);
    else {
      let fromCache = false;
      if (cache) {
        meta = await this.#expectedMeta();
        if (existsSync(cache)) {
          try {
            const r = (await this.#pool.call({ op: 'load-cache', file: cache })) as Extract<
              WorkerResult,
              { op: 'load-cache' }
            >;
            let found: unknown = null;
            try {
              found = r.meta === null ? null : JSON.parse(r.meta);
            } catch {
              found = null;
            }
            const why = staleReason(found, meta, r.shape) ?? corruptReason(found, r.data);
            if (why) log(`index cache ${cache} is stale (${why}); rebuilding`);
            else {
              shared.set(r.data);
              fromCache = true;
              this.#builtFrom = 'cache';
            }
          } catch (e) {
            log(`index cache ${cache} is unreadable (${(e as Error).message}); rebuilding`);
          }
        }
      }
      if (!fromCache) {
        for await (const b of this.#embedGallery()) shared.set(b.vectors, b.ids[0]! * dim);
        if (cache && meta) {
          const withSum = { ...meta, embeddingsSha256: embeddingsSha256(shared) };
          await this.#pool.call({
            op: 'save-cache',
            file: cache,
            data: shared.buffer as SharedArrayBuffer,
            size: n,
            dim,
            meta: JSON.stringify(withSum),
          });
          log(`index cache written to ${cache}`);
        }
      }
    }
    this.#exact = shared;
    await this.#pool.broadcast(
      { op: 'set-index', data: shared.buffer as SharedArrayBuffer, size: n, dim, chunkRows: this.#o.chunkRows },
      true,
    );
  }

  async #buildLance(): Promise<void> {
    const log = this.#o.log ?? (() => undefined);
    const dir = this.#o.indexCache ?? (this.#tempDir = mkdtempSync(path.join(tmpdir(), 'dml-serve-lance-')));
    const meta = await this.#expectedMeta();
    const provided = this.#provided();
    if (!provided && this.#o.indexCache) {
      this.#lance = await LanceIndex.open(dir, meta, (why) =>
        log(`lancedb index ${dir} is stale (${why}); rebuilding`),
      );
      if (this.#lance) {
        this.#builtFrom = 'cache';
        return;
      }
    }
    const dim = this.info.dim;
    const batches = provided ? providedBatches(provided, dim, this.#o.embedBatch * 32) : this.#embedGallery();
    this.#lance = await LanceIndex.build(dir, dim, meta, batches, { annThreshold: this.#o.lanceAnnThreshold });
  }

  /** Embeds the gallery in order, a few batches in flight per worker; yields (ids, vectors). */
  async *#embedGallery(): AsyncGenerator<{ ids: number[]; vectors: Float32Array }> {
    const items = this.gallery.items,
      bs = Math.max(1, this.#o.embedBatch);
    const log = this.#o.log ?? (() => undefined);
    const window = 2 * this.#pool.size;
    const inflight: Promise<{ ids: number[]; vectors: Float32Array }>[] = [];
    let next = 0,
      done = 0,
      lastLog = performance.now();
    const launch = (): void => {
      const batch = items.slice(next, next + bs);
      next += batch.length;
      inflight.push(
        this.#pool.call({ op: 'embed', inputs: batch.map((it) => ({ file: it.file, where: it.where })) }).then(
          (r) => ({ ids: batch.map((it) => it.id), vectors: (r as Extract<WorkerResult, { op: 'embed' }>).features }),
          (e: unknown) => {
            throw new Error(`embedding the gallery: ${(e as Error).message}`);
          },
        ),
      );
    };
    try {
      while (next < items.length && inflight.length < window) launch();
      while (inflight.length > 0) {
        const b = await inflight.shift()!;
        if (next < items.length) launch();
        done += b.ids.length;
        if (performance.now() - lastLog > 5000) {
          log(`embedded ${done}/${items.length} gallery images`);
          lastLog = performance.now();
        }
        yield b;
      }
    } finally {
      // A failed batch leaves the others running; their results are dropped.
      for (const p of inflight) p.catch(() => undefined);
    }
  }

  // ---- queries ----

  #job<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new ApiError(503, 'unavailable', 'the server is shutting down'));
    const job = this.limiter.run(fn, signal);
    const ms = this.#o.jobTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      // The job keeps its slot until it really ends, so the concurrency bound stays honest.
      const timer = setTimeout(() => reject(new ApiError(504, 'timeout', `inference took longer than ${ms} ms`)), ms);
      job.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  async #search(vector: Float32Array, k: number, metric: Metric): Promise<Hits> {
    if (this.#lance) return this.#lance.search(vector, k, metric);
    const r = await this.#pool.call({ op: 'query-vector', vector, k, metric });
    return (r as Extract<WorkerResult, { op: 'query-vector' }>).hits;
  }

  /** Neighbours of an uploaded image (bytes already checked to be JPEG/PNG/WebP). */
  async queryImage(bytes: Uint8Array, q: QueryOptions): Promise<QueryResponse> {
    const t0 = performance.now();
    if (q.label !== undefined && !this.gallery.classNames.includes(q.label)) {
      throw new ApiError(400, 'bad_request', `label '${q.label}' is not a gallery class`);
    }
    const hits = await this.#job(async () => {
      const r = (await this.#pool.call({
        op: 'query-image',
        bytes,
        k: q.k,
        metric: q.metric,
        search: this.#lance === null,
      })) as Extract<WorkerResult, { op: 'query-image' }>;
      this.#imageQueries++;
      this.#imageForwards += 1 / r.batch;
      return r.hits ?? this.#lance!.search(r.vector, q.k, q.metric);
    }, q.signal);
    return this.#respond(hits, q, { kind: 'image' }, q.label, t0);
  }

  /** Neighbours of a gallery item (the item itself left out). */
  async queryId(id: number, q: QueryOptions): Promise<QueryResponse> {
    const t0 = performance.now();
    const item = this.item(id);
    if (!item)
      throw new ApiError(
        404,
        'not_found',
        `no gallery item with id ${id} (the gallery has ${this.gallery.items.length}: 0..` +
          `${this.gallery.items.length - 1})`,
      );
    const hits = await this.#job(async () => {
      const dim = this.info.dim;
      const v = this.#exact ? this.#exact.slice(id * dim, (id + 1) * dim) : await this.#lance!.vector(id);
      const h = await this.#search(v, Math.min(q.k + 1, this.gallery.items.length), q.metric);
      const keep: number[] = [];
      for (let i = 0; i < h.ids.length && keep.length < q.k; i++) if (h.ids[i] !== id) keep.push(i);
      return { ids: Int32Array.from(keep, (i) => h.ids[i]!), scores: Float64Array.from(keep, (i) => h.scores[i]!) };
    }, q.signal);
    return this.#respond(hits, q, { kind: 'id', id, path: item.path }, item.label, t0);
  }

  /** Neighbours of an embedding given by the client. */
  async queryVector(vector: Float32Array, q: QueryOptions): Promise<QueryResponse> {
    const t0 = performance.now();
    if (vector.length !== this.info.dim)
      throw new ApiError(
        400,
        'bad_vector',
        `vector has ${vector.length} values; the model's embeddings have ${this.info.dim}`,
      );
    const hits = await this.#job(() => this.#search(vector, q.k, q.metric), q.signal);
    return this.#respond(hits, q, { kind: 'vector' }, q.label, t0);
  }

  #respond(
    h: Hits,
    q: QueryOptions,
    query: QueryResponse['query'],
    queryLabel: string | undefined,
    t0: number,
  ): QueryResponse {
    const neighbours: Neighbour[] = [];
    for (let i = 0; i < h.ids.length; i++) {
      const it = this.gallery.items[h.ids[i]!];
      if (!it) continue;
      const score = h.scores[i]!;
      neighbours.push({
        id: it.id,
        path: it.path,
        label: it.label,
        score,
        distance: q.metric === 'cosine' ? 1 - score : score,
        ...(queryLabel !== undefined ? { sameClass: it.label === queryLabel } : {}),
        imageUrl: `/api/image/${it.id}`,
      });
    }
    return {
      neighbours,
      ...(queryLabel !== undefined ? { queryLabel } : {}),
      query,
      metric: q.metric,
      k: q.k,
      tookMs: Math.round((performance.now() - t0) * 100) / 100,
    };
  }

  // ---- gallery and stats ----

  item(id: number): GalleryItem | undefined {
    return Number.isInteger(id) && id >= 0 ? this.gallery.items[id] : undefined;
  }

  /** n distinct random gallery items (all when n ≥ size). */
  randomItems(n: number): GalleryItem[] {
    const items = this.gallery.items;
    if (n >= items.length) return [...items];
    const picked = new Set<number>();
    while (picked.size < n) picked.add(Math.floor(Math.random() * items.length));
    return [...picked].map((i) => items[i]!);
  }

  stats(): ServiceStats {
    const info = this.info;
    return {
      gallery: {
        source: path.basename(this.gallery.source),
        kind: this.gallery.kind,
        size: this.gallery.items.length,
        classes: this.gallery.classNames.length,
      },
      model: {
        arch: info.arch,
        dim: info.dim,
        inChannels: info.inChannels,
        inputSize: info.inputSize,
        numClasses: info.numClasses,
        checkpoint: path.basename(this.#o.checkpoint),
        epoch: info.epoch,
        dataKind: info.dataKind,
        maxQueryPixels: info.maxQueryPixels,
      },
      index: {
        kind: this.#o.index,
        size: this.gallery.items.length,
        dim: info.dim,
        approximate: this.#lance?.approximate ?? false,
        cache: this.#o.indexCache ? path.basename(this.#o.indexCache) : null,
        builtFrom: this.#builtFrom,
        buildSeconds: Math.round(this.#buildSeconds * 100) / 100,
      },
      queue: {
        ...this.limiter.stats(),
        workers: this.#pool.size,
        workerInflight: this.#pool.inflight(),
        workerRestarts: this.#pool.restarts,
        jobTimeoutMs: this.#o.jobTimeoutMs,
        imageQueries: this.#imageQueries,
        imageBatchMean:
          this.#imageForwards > 0 ? Math.round((this.#imageQueries / this.#imageForwards) * 100) / 100 : null,
        batchWindowMs: this.#o.batchWindowMs,
        threads: this.#o.threads,
      },
      uptimeSeconds: Math.round((Date.now() - this.#started) / 1000),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
    this.#lance?.close();
    this.#lance = null;
    if (this.#tempDir) rmSync(this.#tempDir, { recursive: true, force: true });
  }
}

async function* providedBatches(
  e: Float32Array,
  dim: number,
  rows: number,
): AsyncGenerator<{ ids: number[]; vectors: Float32Array }> {
  const n = e.length / dim;
  for (let s = 0; s < n; s += rows) {
    const m = Math.min(rows, n - s);
    yield { ids: Array.from({ length: m }, (_, i) => s + i), vectors: e.subarray(s * dim, (s + m) * dim) };
  }
}

/**
 * Every worker may run a forward pass of its largest batch at once (gallery batches while indexing,
 * query batches after): refused with the options that lower it when that cannot fit.
 */
function checkServerMemory(info: ModelInfo, o: RetrievalOptions & typeof DEFAULTS): void {
  const batch = Math.max(o.embedBatch, o.maxBatch);
  const { fixed, perImage } = info.memory;
  const perWorker = { fixed, images: perImage * batch };
  const e: MemoryEstimate = {
    base: o.workers * fixed,
    parameters: 0,
    activations: o.workers * perWorker.images,
    pipeline: 0,
    total: o.workers * (fixed + perWorker.images),
  };
  checkMemoryBudget(
    e,
    memoryLimit(o.memoryLimitMiB ?? 0, '--memory-limit'),
    `serving ${info.arch} at ${info.inputSize.join('×')} px with ${o.workers} worker(s) of batches up to ${batch}`,
    'Lower --batch-size, --max-batch, --image-size or --workers, or raise --memory-limit (MiB) if the estimate ' +
      'is wrong for this machine.',
  );
}
