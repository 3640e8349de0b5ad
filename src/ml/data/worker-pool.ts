// A small worker_threads pool for loader jobs: FIFO queue, at most `perWorker` jobs in flight per
// worker, workers unref'd while idle (an abandoned loader never keeps the process alive), and a
// crashed worker's jobs rejected with an error naming it and its files instead of hanging.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Job, JobResult } from './job.js';

/** A failure of the loading machinery itself (not of one sample): never skipped by skipBad. */
export class LoaderFatalError extends Error {
  override name = 'LoaderFatalError';
}

interface Pending {
  job: Job;
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
  cancelled: () => boolean;
}

interface Slot {
  worker: Worker;
  index: number;
  inflight: Map<number, Pending>;
  dead: boolean;
}

export interface PoolOptions {
  size: number;
  script: URL;
  workerData: unknown;
  /** Jobs queued on each worker at once; 2 keeps a worker busy while its result travels back. */
  perWorker?: number;
}

export class WorkerPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  readonly #opts: Required<PoolOptions>;
  #closed = false;
  #nextId = 1;
  /** Crashes since the last successful job; a worker that cannot even start must not loop forever. */
  #crashStreak = 0;
  #lastCrash = '';

  constructor(opts: PoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1)
      throw new RangeError(`WorkerPool: size must be a positive integer, got ${opts.size}`);
    this.#opts = { perWorker: 2, ...opts };
    for (let i = 0; i < opts.size; i++) this.#slots.push(this.#spawn(i));
  }

  #spawn(index: number): Slot {
    const worker = new Worker(this.#opts.script, { workerData: this.#opts.workerData });
    const slot: Slot = { worker, index, inflight: new Map(), dead: false };
    worker.unref();
    worker.on('message', (r: JobResult) => {
      const p = slot.inflight.get(r.id);
      if (!p) return;
      slot.inflight.delete(r.id);
      this.#crashStreak = 0;
      if (slot.inflight.size === 0) worker.unref();
      p.resolve(r);
      this.#pump();
    });
    worker.on('error', (err) => this.#onDeath(slot, `crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#onDeath(slot, `exited with code ${code}`);
    });
    return slot;
  }

  #onDeath(slot: Slot, why: string): void {
    if (slot.dead) return;
    slot.dead = true;
    this.#crashStreak++;
    this.#lastCrash = why;
    const files = [...slot.inflight.values()].map((p) => p.job.path);
    for (const p of slot.inflight.values()) {
      p.reject(new LoaderFatalError(`data worker ${slot.index} ${why} while loading ${files.join(', ')}`));
    }
    slot.inflight.clear();
    void slot.worker.terminate().catch(() => undefined);
    if (this.#closed) return;
    if (this.#crashStreak > 2 * this.#slots.length) {
      // Workers die as soon as they start: fail what is queued rather than respawning forever.
      for (const p of this.#queue.splice(0))
        p.reject(new LoaderFatalError(`data workers keep dying (last: ${this.#lastCrash})`));
      return;
    }
    this.#slots[slot.index] = this.#spawn(slot.index);
    this.#pump();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.cancelled()) {
        this.#queue.shift();
        head.reject(new LoaderFatalError('cancelled'));
        continue;
      }
      let best: Slot | undefined;
      for (const s of this.#slots) {
        if (s.dead || s.inflight.size >= this.#opts.perWorker) continue;
        if (!best || s.inflight.size < best.inflight.size) best = s;
      }
      if (!best) return;
      this.#queue.shift();
      if (best.inflight.size === 0) best.worker.ref();
      best.inflight.set(head.job.id, head);
      // Cached bytes are shared memory: posting them does not copy.
      best.worker.postMessage(head.job);
    }
  }

  /** Runs a job on some worker; `cancelled` lets a queued job be dropped before it starts. */
  run(job: Job, cancelled: () => boolean = () => false): Promise<JobResult> {
    if (this.#closed) return Promise.reject(new LoaderFatalError('the loader is closed'));
    if (this.#crashStreak > 2 * this.#slots.length)
      return Promise.reject(new LoaderFatalError(`data workers keep dying (last: ${this.#lastCrash})`));
    // Ids are the pool's own: loaders sharing the pool number their jobs independently.
    const own = { ...job, id: this.#nextId++ };
    return new Promise((resolve, reject) => {
      this.#queue.push({ job: own, resolve, reject, cancelled });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new LoaderFatalError('the loader is closed'));
    for (const s of this.#slots)
      for (const p of s.inflight.values()) p.reject(new LoaderFatalError('the loader is closed'));
    // Node does not hold the process up for a terminating worker's exit: with nothing else pending
    // (a run failing on its first step while a batch loads) the event loop ran dry before
    // terminate() resolved, and the command ended as an internal error instead of its own message.
    const hold = setInterval(() => undefined, 1 << 30);
    try {
      await Promise.all(this.#slots.map((s) => s.worker.terminate().catch(() => undefined)));
    } finally {
      clearInterval(hold);
    }
  }
}

/** Cores − 1 (the main thread trains), at least 1, at most 8. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(8, availableParallelism() - 1));
}

/** A pool of image-loading workers; pass it to several ImageLoaders to share its threads. */
export function createLoaderPool(workers = defaultWorkerCount()): WorkerPool {
  return new WorkerPool({
    size: workers,
    script: new URL('./loader-worker.js', import.meta.url),
    workerData: { sharpThreads: 1 },
  });
}
