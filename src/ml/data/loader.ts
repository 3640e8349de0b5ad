// The image batch loader: samples + a pipeline → Float32 batches, decoded on a worker_threads pool
// with a bounded number of batches prefetched. Each sample's augmentation stream is fixed by
// (seed, epoch, batch index, position in batch), so batches are identical whatever the number of
// workers and whatever order jobs finish in.
import { availableParallelism } from 'node:os';
import { BatchMemory } from './batch-memory.js';
import { runJob, type CacheMode, type Job, type JobDone, type JobResult } from './job.js';
import { labelsOf, type Sample } from './list.js';
import type { DecodedImage, Pipeline } from './pipeline.js';
import { sampleRng } from '../random.js';
import { checkRange } from './range.js';
import { createLoaderPool, defaultWorkerCount, LoaderFatalError, type WorkerPool } from './worker-pool.js';

export { defaultWorkerCount };

// sharp decodes on libuv's threadpool, one per process and 4 threads by default, shared by every
// loader worker: more workers than that would queue for it. libuv reads this variable when the
// pool first starts, so it only helps when this module loads before any async I/O (as a CLI's
// static imports do); otherwise set UV_THREADPOOL_SIZE in the environment.
process.env['UV_THREADPOOL_SIZE'] ??= String(Math.max(4, availableParallelism()));

export interface Batch {
  /** B × C × H × W floats. */
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
  /** The sample indices in the batch (bad samples dropped with skipBad are not in it). */
  indices: Int32Array;
  /**
   * Hands `images`' memory back to the loader once the batch has been copied (say, into a
   * tensor); `images` is empty afterwards. Optional, but a consumer that releases its batches
   * lets the workers keep writing them in place, in shared memory, instead of this thread
   * copying every image.
   */
  release?(): void;
}

export interface LoaderOptions {
  pipeline: Pipeline;
  /** Augmentation seed (default 0). */
  seed?: number;
  /**
   * Worker threads; 0 decodes on the main thread (sharp still decodes off-thread). Default: cores − 1, at least 1, at
   * most 8. Started on first use.
   */
  workers?: number;
  /**
   * A pool shared with other loaders (createLoaderPool); `workers` is then ignored and close() leaves the pool running.
   */
  pool?: WorkerPool;
  /** Batches loaded ahead of the consumer by iterate() / batches() (default 2). */
  prefetch?: number;
  /**
   * Keep each image's file bytes ('encoded') or its decoded, pre-augmentation pixels ('decoded') in memory after first
   * use.
   */
  cache?: CacheMode;
  /** Stop adding to the cache past this many bytes (default: no limit). */
  cacheMaxBytes?: number;
  /** Drop unreadable images from their batch (logged once per image, counted in `skipped`) instead of failing. */
  skipBad?: boolean;
  /** Where skip messages go (default console.warn). */
  log?: (message: string) => void;
}

type Outcome = { ok: true; r: JobDone } | { ok: false; error: Error };

export class ImageLoader {
  readonly samples: readonly Sample[];
  readonly labels: Int32Array;
  readonly numClasses: number;
  readonly pipeline: Pipeline;
  readonly seed: number;
  readonly workers: number;
  readonly prefetch: number;
  readonly #opts: LoaderOptions;
  #pool: WorkerPool | null = null;
  readonly #ownsPool: boolean;
  readonly #pipelineJson: string;
  readonly #cache = new Map<number, Uint8Array | DecodedImage>();
  readonly #bad = new Map<number, string>();
  #cacheBytes = 0;
  #skipped = 0;
  #nextJob = 1;
  #closed = false;
  #lastShape: [number, number, number] | null = null;
  #memory: BatchMemory;

  constructor(samples: readonly Sample[], options: LoaderOptions) {
    if (samples.length === 0) throw new RangeError('ImageLoader: no samples');
    samples.forEach((s, i) => {
      if (!Number.isInteger(s.label) || s.label < 0)
        throw new RangeError(
          `ImageLoader: sample ${i} (${s.where ?? s.path}) has label ${s.label}, expected a non-negative integer`,
        );
    });
    this.samples = samples;
    this.labels = labelsOf(samples);
    this.numClasses = this.labels.reduce((m, v) => Math.max(m, v), -1) + 1;
    this.pipeline = options.pipeline;
    this.seed = options.seed ?? 0;
    this.workers = options.workers ?? defaultWorkerCount();
    this.prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(this.workers) || this.workers < 0)
      throw new RangeError(`ImageLoader: workers must be a non-negative integer, got ${this.workers}`);
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0)
      throw new RangeError(`ImageLoader: prefetch must be a non-negative integer, got ${this.prefetch}`);
    this.#opts = options;
    this.#ownsPool = !options.pool;
    this.#pool = options.pool ?? null;
    this.#pipelineJson = JSON.stringify(this.pipeline.toSpec());
    // Enough for iterate()'s batches in flight, the one being consumed and the next load().
    this.#memory = new BatchMemory(this.prefetch + 3);
  }

  /** The pool to run on, started on first use (loaders made but never used cost no threads). */
  #workerPool(): WorkerPool | null {
    if (!this.#pool && this.#ownsPool && this.workers > 0) this.#pool = createLoaderPool(this.workers);
    return this.#pool;
  }

  get inChannels(): number {
    return this.pipeline.channels;
  }

  /** Sample loads dropped so far because the image was unreadable (skipBad). */
  get skipped(): number {
    return this.#skipped;
  }

  /** Unreadable samples seen so far: index → error message. */
  get bad(): ReadonlyMap<number, string> {
    return this.#bad;
  }

  get cachedImages(): number {
    return this.#cache.size;
  }

  get cachedBytes(): number {
    return this.#cacheBytes;
  }

  #cacheMode(): CacheMode {
    return this.#opts.cache ?? 'none';
  }

  async #runSample(index: number, job: Job, cancelled: () => boolean): Promise<Outcome> {
    let r: JobResult;
    try {
      const pool = this.#workerPool();
      r = pool ? await pool.run(job, cancelled) : await runJob(this.pipeline, job);
    } catch (e) {
      return { ok: false, error: e as Error };
    }
    if (!r.ok) return { ok: false, error: new Error(r.message) };
    const max = this.#opts.cacheMaxBytes ?? Infinity;
    const kept = r.keptBytes ?? r.keptDecoded;
    if (kept && !this.#cache.has(index)) {
      const size = kept instanceof Uint8Array ? kept.byteLength : kept.data.byteLength;
      if (this.#cacheBytes + size <= max) {
        this.#cache.set(index, kept);
        this.#cacheBytes += size;
      }
    }
    return { ok: true, r };
  }

  #job(index: number, rngState: Job['rng'], slot: Job['slot']): Job {
    const sample = this.samples[index]!;
    const job: Job = {
      id: this.#nextJob++,
      pipeline: this.#pipelineJson,
      path: sample.path,
      rng: rngState,
      keep: 'none',
    };
    if (slot) job.slot = slot;
    const cached = this.#cache.get(index);
    if (cached instanceof Uint8Array) job.bytes = cached;
    else if (cached) job.decoded = cached;
    else if ((this.#opts.cacheMaxBytes ?? Infinity) > this.#cacheBytes) job.keep = this.#cacheMode();
    return job;
  }

  async #loadBatch(
    indices: readonly number[],
    epoch: number,
    batchIndex: number,
    cancelled: () => boolean = () => false,
    positionOffset = 0,
  ): Promise<Batch> {
    if (this.#closed) throw new LoaderFatalError('ImageLoader: the loader is closed');
    indices.forEach((i, pos) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.samples.length) {
        throw new RangeError(
          `ImageLoader: index ${i} at batch position ${pos} is outside 0..${this.samples.length - 1}`,
        );
      }
    });
    // Once the images' shape is known, workers write straight into the batch (shared memory),
    // sparing this thread — the one that trains — a copy of every image.
    const slotSize = this.#lastShape ? this.#lastShape[0] * this.#lastShape[1] * this.#lastShape[2] : 0;
    const shared = slotSize > 0 ? this.#memory.take(indices.length * slotSize * 4) : null;
    try {
      return await this.#fillBatch(indices, epoch, batchIndex, cancelled, shared, slotSize, positionOffset);
    } catch (e) {
      // Every job has finished (or never started): nothing writes into the buffer any more.
      if (shared) this.#memory.give(shared);
      throw e;
    }
  }

  async #fillBatch(
    indices: readonly number[],
    epoch: number,
    batchIndex: number,
    cancelled: () => boolean,
    shared: SharedArrayBuffer | null,
    slotSize: number,
    positionOffset: number,
  ): Promise<Batch> {
    const skipBad = this.#opts.skipBad ?? false;
    const outcomes = await Promise.all(
      indices.map((i, pos): Promise<Outcome | null> => {
        if (skipBad && this.#bad.has(i)) return Promise.resolve(null);
        const slot = shared ? { buffer: shared, offset: pos * slotSize, length: slotSize } : undefined;
        return this.#runSample(
          i,
          this.#job(i, sampleRng(this.seed, epoch, batchIndex, positionOffset + pos).getState(), slot),
          cancelled,
        );
      }),
    );

    const kept: Array<{ index: number; pos: number; r: JobDone }> = [];
    for (let pos = 0; pos < indices.length; pos++) {
      const i = indices[pos]!,
        o = outcomes[pos]!;
      const s = this.samples[i]!;
      if (o === null) {
        this.#skipped++;
        continue;
      }
      if (o.ok) {
        kept.push({ index: i, pos, r: o.r });
        continue;
      }
      const where = s.where ? `${s.where}: ` : '';
      const msg = o.error.message.includes(s.path) ? o.error.message : `${s.path}: ${o.error.message}`;
      if (o.error instanceof LoaderFatalError || !skipBad) throw new Error(`${where}${msg}`, { cause: o.error });
      this.#bad.set(i, msg);
      this.#skipped++;
      (this.#opts.log ?? console.warn)(`skipping unreadable image ${where}${msg}`);
    }

    const shape = kept[0]?.r.shape ?? this.#lastShape ?? [this.pipeline.channels, 0, 0];
    const [C, H, W] = shape;
    const per = C * H * W;
    kept.forEach(({ index, r }) => {
      if (r.shape[0] !== C || r.shape[1] !== H || r.shape[2] !== W) {
        const s = this.samples[index]!;
        throw new Error(
          `${s.where ? `${s.where}: ` : ''}${s.path}: transformed to ${r.shape.join('x')}, but the batch is ` +
            `${shape.join('x')} (end the pipeline with a fixed-size crop)`,
        );
      }
    });
    if (kept.length > 0) this.#lastShape = shape;
    const batch: Batch = {
      images: new Float32Array(0),
      labels: Int32Array.from(kept, (k) => this.labels[k.index]!),
      shape: [kept.length, C, H, W],
      indices: Int32Array.from(kept, (k) => k.index),
    };
    if (shared && kept.length === indices.length && kept.every((k) => k.r.inSlot)) {
      batch.images = new Float32Array(shared, 0, kept.length * per);
      let released = false;
      // Not enumerable: a batch compares, prints and serialises as its data.
      Object.defineProperty(batch, 'release', {
        value: (): void => {
          if (released) return;
          released = true;
          batch.images = new Float32Array(0);
          this.#memory.give(shared);
        },
      });
      return batch;
    }
    // The first batches, or one with skipped images: gather what came back.
    batch.images = new Float32Array(kept.length * per);
    kept.forEach(({ pos, r }, b) => {
      batch.images.set(r.inSlot ? new Float32Array(shared!, pos * slotSize * 4, slotSize) : r.data, b * per);
    });
    if (shared) this.#memory.give(shared);
    return batch;
  }

  /**
   * One batch of samples `indices` with the augmentation of (epoch, batchIndex). The returned
   * promise never triggers an unhandled rejection if it is awaited late (e.g. one batch ahead).
   * `positionOffset` is the position of indices[0] in a larger batch that several processes share
   * (data-parallel training): each image gets the augmentation it would get in the whole batch.
   */
  load(indices: readonly number[], epoch: number, batchIndex: number, positionOffset = 0): Promise<Batch> {
    if (!Number.isInteger(positionOffset) || positionOffset < 0)
      throw new RangeError(`ImageLoader.load: positionOffset must be a non-negative integer, got ${positionOffset}`);
    const p = this.#loadBatch(indices, epoch, batchIndex, undefined, positionOffset);
    p.catch(() => undefined);
    return p;
  }

  /** The given batches in order, up to `prefetch` batches loading ahead of the consumer. */
  async *iterate(batches: ReadonlyArray<readonly number[]>, epoch: number): AsyncGenerator<Batch> {
    let stopped = false;
    const cancelled = (): boolean => stopped;
    const queue: Array<Promise<Batch>> = [];
    let next = 0;
    const fill = (): void => {
      while (queue.length <= this.prefetch && next < batches.length) {
        const p = this.#loadBatch(batches[next]!, epoch, next, cancelled);
        p.catch(() => undefined);
        queue.push(p);
        next++;
      }
    };
    try {
      fill();
      while (queue.length > 0) {
        const batch = await queue.shift()!;
        fill();
        yield batch;
      }
    } finally {
      // The consumer stopped early (or a batch failed): drop the queued jobs of later batches.
      stopped = true;
    }
  }

  /**
   * Every sample once, in order, in batches of batchSize (the last may be smaller): for evaluation.
   * `range` restricts it to samples [start, end) (one process's shard).
   */
  batches(batchSize: number, range?: { start: number; end: number }): AsyncGenerator<Batch> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`ImageLoader.batches: batchSize must be a positive integer, got ${batchSize}`);
    const [first, n] = checkRange(range, this.samples.length, 'ImageLoader.batches');
    const chunks: number[][] = [];
    for (let s = first; s < n; s += batchSize)
      chunks.push(Array.from({ length: Math.min(batchSize, n - s) }, (_, k) => s + k));
    return this.iterate(chunks, 0);
  }

  /** Fills the cache (cache: 'encoded' | 'decoded') by loading every sample once. */
  async preload(batchSize = 64): Promise<void> {
    if (this.#cacheMode() === 'none') throw new Error("ImageLoader.preload: set cache to 'encoded' or 'decoded' first");
    for await (const _ of this.batches(batchSize)) {
      // Loading is the point; the batches themselves are dropped.
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#memory.clear();
    this.#cache.clear();
    this.#cacheBytes = 0;
    if (this.#ownsPool) await this.#pool?.close();
  }
}
