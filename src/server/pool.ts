// The inference workers, seen from the main thread: start them, wait until each has loaded the
// model, send each request to the least busy one, and replace a worker that dies (its in-flight
// requests fail with a 500; the replacement gets the index again before it takes work).
import { Worker } from 'node:worker_threads';
import { applyOmpWaitDefault } from '../engine/omp-env.js';
import { ApiError, imageError } from './errors.js';
import { EngineLock } from './engine-lock.js';
import type { ModelInfo, WorkerFailure, WorkerInit, WorkerMessage, WorkerRequest, WorkerResult } from './protocol.js';

interface Pending {
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: Promise<ModelInfo>;
  inflight: Map<number, Pending>;
  dead: boolean;
  /** Loaded the model at least once: only such a worker is replaced when it dies. */
  started: boolean;
}

export type PoolInit = Omit<WorkerInit, 'lock'>;

export class InferencePool {
  readonly #slots: Slot[] = [];
  readonly #lock = EngineLock.create();
  readonly #init: PoolInit;
  #info: ModelInfo | null = null;
  #nextId = 1;
  #closed = false;
  /** Replayed to a replacement worker before it takes requests (the exact index). */
  #setup: WorkerRequest[] = [];
  #restarts = 0;

  private constructor(init: PoolInit) {
    this.#init = init;
  }

  /** Starts `size` workers and resolves once all have loaded the checkpoint. */
  static async start(size: number, init: PoolInit): Promise<InferencePool> {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`workers must be a positive integer, got ${size}`);
    const pool = new InferencePool(init);
    for (let i = 0; i < size; i++) pool.#slots.push(pool.#spawn(i));
    try {
      const infos = await Promise.all(pool.#slots.map((s) => s.ready));
      pool.#info = infos[0]!;
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get info(): ModelInfo {
    if (!this.#info) throw new Error('InferencePool: not started');
    return this.#info;
  }

  get size(): number {
    return this.#slots.length;
  }

  get restarts(): number {
    return this.#restarts;
  }

  #spawn(index: number): Slot {
    // The workers load libtorch; this thread, which does not, sets the OpenMP wait policy they get.
    applyOmpWaitDefault();
    // Workers inherit the process's Node flags; --input-type (from `node --input-type=module -e`) is refused in
    // workers.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { ...this.#init, lock: this.#lock, notes: index === 0 } satisfies WorkerInit,
      execArgv,
    });
    let readyResolve!: (i: ModelInfo) => void, readyReject!: (e: Error) => void;
    const ready = new Promise<ModelInfo>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => undefined); // observed by start() or by a replacement's first call
    const slot: Slot = { index, worker, ready, inflight: new Map(), dead: false, started: false };
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        slot.started = true;
        readyResolve(m.info);
      } else if (m.type === 'init-error') {
        readyReject(new Error(`inference worker ${index} cannot load the model: ${m.message}`));
        void worker.terminate();
      } else {
        const p = slot.inflight.get(m.id);
        if (!p) return;
        slot.inflight.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(failureError(m.failure));
      }
    });
    worker.on('error', (e) => this.#onDeath(slot, `crashed: ${e.message}`, readyReject));
    worker.on('exit', (code) => this.#onDeath(slot, `exited with code ${code}`, readyReject));
    return slot;
  }

  #onDeath(slot: Slot, why: string, readyReject: (e: Error) => void): void {
    if (slot.dead) return;
    slot.dead = true;
    readyReject(new Error(`inference worker ${slot.index} ${why} while starting`));
    for (const p of slot.inflight.values())
      p.reject(new ApiError(500, 'internal', `inference worker ${slot.index} ${why}`));
    slot.inflight.clear();
    if (this.#closed || !this.#info || !slot.started) return;
    // Replace it; its setup (the index) is replayed before the slot takes requests again.
    this.#restarts++;
    const fresh = this.#spawn(slot.index);
    const setup = [...this.#setup];
    fresh.ready = fresh.ready.then(async (info) => {
      for (const req of setup) await this.#send(fresh, req);
      return info;
    });
    fresh.ready.catch(() => undefined);
    this.#slots[slot.index] = fresh;
  }

  #send(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    const id = this.#nextId++;
    return new Promise<WorkerResult>((resolve, reject) => {
      slot.inflight.set(id, { resolve, reject });
      slot.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Runs a request on the least busy live worker. */
  async call(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    // A worker can die while we wait for it to be ready (a replacement's start): choose again.
    for (let attempt = 0; attempt <= this.#slots.length; attempt++) {
      if (this.#closed) throw new ApiError(503, 'unavailable', 'the server is shutting down');
      let best: Slot | undefined;
      for (const s of this.#slots) if (!s.dead && (!best || s.inflight.size < best.inflight.size)) best = s;
      if (!best) break;
      const slot = best;
      try {
        await slot.ready;
      } catch {
        continue;
      }
      if (slot.dead) continue;
      return this.#send(slot, req, transfer);
    }
    throw new ApiError(503, 'unavailable', 'no inference worker is running');
  }

  /** Sends a request to every worker (e.g. the index); remembered for replacements when `setup`. */
  async broadcast(req: WorkerRequest, setup = false): Promise<WorkerResult[]> {
    if (setup) this.#setup.push(req);
    return Promise.all(
      this.#slots.map(async (s) => {
        await s.ready;
        return this.#send(s, req);
      }),
    );
  }

  /** Jobs running or waiting in the workers. */
  inflight(): number {
    return this.#slots.reduce((n, s) => n + s.inflight.size, 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#slots.map(async (s) => {
        for (const p of s.inflight.values()) p.reject(new ApiError(503, 'unavailable', 'the server is shutting down'));
        s.inflight.clear();
        s.dead = true;
        await s.worker.terminate();
      }),
    );
  }
}

function failureError(f: WorkerFailure): ApiError {
  if (f.kind === 'image') return imageError(f);
  if (f.kind === 'bad') return new ApiError(400, 'bad_request', f.message);
  return new ApiError(500, 'internal', f.message);
}
