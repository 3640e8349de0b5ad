// A process-wide mutex over the libtorch engine, shared by the inference workers through a
// SharedArrayBuffer.
//
// Why: the native addon keeps its tensor table (src/native/common.cc: `slots`, `freeSlots`, `live`)
// in process-global, unsynchronised state, so two threads creating or disposing tensors at the
// same time corrupt it (a 3-worker loop of zeros/add/dispose segfaults within seconds). Until the
// addon makes that table per-thread, every engine call of a worker runs inside this lock. Decoding
// (sharp, off the lock) and libtorch's own intra-op threads still run in parallel.
//
// The GC backstop of the engine (a FinalizationRegistry calling native.dispose) fires outside any
// code of ours, so guardNativeDispose() routes that call through the lock too.

export class EngineLock {
  readonly #cell: Int32Array;
  #depth = 0;

  /** sab: 4 bytes shared by every thread that uses the engine; all zero = unlocked. */
  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength < 4) throw new RangeError('EngineLock needs a SharedArrayBuffer of at least 4 bytes');
    this.#cell = new Int32Array(buffer, 0, 1);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  /** Whether this thread holds the lock. */
  get held(): boolean {
    return this.#depth > 0;
  }

  /** Runs fn (synchronous: the lock must not be held across an await) holding the lock; re-entrant per thread. */
  run<T>(fn: () => T): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return fn();
      } finally {
        this.#depth--;
      }
    }
    while (Atomics.compareExchange(this.#cell, 0, 0, 1) !== 0) Atomics.wait(this.#cell, 0, 1, 50);
    this.#depth = 1;
    try {
      const r = fn();
      if (r instanceof Promise) throw new TypeError('EngineLock.run(fn): fn must be synchronous');
      return r;
    } finally {
      this.#depth = 0;
      Atomics.store(this.#cell, 0, 0);
      Atomics.notify(this.#cell, 0, 1);
    }
  }
}

/** Makes the engine's own native.dispose calls (GC finalizers included) take the lock. */
export function guardNativeDispose(native: { dispose(h: never): boolean }, lock: EngineLock): void {
  const raw = native.dispose.bind(native);
  native.dispose = ((h: never) => lock.run(() => raw(h))) as typeof native.dispose;
}
