// Admission control for inference: at most maxActive jobs run at once, at most maxQueue wait;
// beyond that a request is refused at once (503) instead of piling up memory and latency.
import { ApiError, QueueFullError } from './errors.js';

export interface LimiterStats {
  active: number;
  queued: number;
  maxActive: number;
  maxQueue: number;
  completed: number;
  failed: number;
  rejected: number;
}

interface Waiter {
  start: () => void;
  signal: AbortSignal | undefined;
  cancel: (e: Error) => void;
}

export class Limiter {
  #active = 0;
  readonly #queue: Waiter[] = [];
  #completed = 0;
  #failed = 0;
  #rejected = 0;

  constructor(
    readonly maxActive: number,
    readonly maxQueue: number,
  ) {
    if (!Number.isInteger(maxActive) || maxActive < 1)
      throw new RangeError(`maxActive must be a positive integer, got ${maxActive}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0)
      throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);
  }

  /** Whether run() would refuse a job now (every slot busy, the queue full): callers shed load early. */
  full(): boolean {
    return this.#active >= this.maxActive && this.#queue.length >= this.maxQueue;
  }

  /** Counts a job refused by a caller that checked full() first. */
  reject(): QueueFullError {
    this.#rejected++;
    return new QueueFullError(this.maxQueue);
  }

  /**
   * Runs fn now or after the jobs ahead of it; throws QueueFullError when the queue is full. A job
   * whose signal aborts while it waits is dropped without running.
   */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#active < this.maxActive) return this.#start(fn);
    if (this.#queue.length >= this.maxQueue) {
      this.#rejected++;
      return Promise.reject(new QueueFullError(this.maxQueue));
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        start: () => {
          this.#start(fn).then(resolve, reject);
        },
        signal,
        cancel: reject,
      };
      this.#queue.push(w);
    });
  }

  async #start<T>(fn: () => Promise<T>): Promise<T> {
    this.#active++;
    try {
      const r = await fn();
      this.#completed++;
      return r;
    } catch (e) {
      this.#failed++;
      throw e;
    } finally {
      this.#active--;
      this.#next();
    }
  }

  #next(): void {
    while (this.#active < this.maxActive && this.#queue.length > 0) {
      const w = this.#queue.shift()!;
      if (w.signal?.aborted) {
        w.cancel(new ApiError(499, 'bad_request', 'the client went away while the request was queued'));
        continue;
      }
      w.start();
    }
  }

  stats(): LimiterStats {
    return {
      active: this.#active,
      queued: this.#queue.length,
      maxActive: this.maxActive,
      maxQueue: this.maxQueue,
      completed: this.#completed,
      failed: this.#failed,
      rejected: this.#rejected,
    };
  }
}
