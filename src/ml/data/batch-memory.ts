// Shared memory for the batches that loader workers write in place, recycled when the consumer
// releases a batch. SharedArrayBuffers are not left to the garbage collector: V8 does not count
// them as memory pressure (measured here: 3 × 19 MB batches an epoch grew RSS by 55 MB an epoch,
// to 4.7 GB before a collection), so at most `max` exist; with all of them out (batches nobody
// released), the loader falls back to ordinary memory and a copy per image.
export class BatchMemory {
  readonly #free: SharedArrayBuffer[] = [];
  #out = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`BatchMemory: max must be a non-negative integer, got ${max}`);
  }

  /** Buffers handed out and not given back. */
  get outstanding(): number {
    return this.#out;
  }

  /** A buffer of at least `bytes` bytes, or null when `max` are out. */
  take(bytes: number): SharedArrayBuffer | null {
    // The smallest free buffer that is big enough (a shorter last batch reuses a full one).
    let best = -1;
    this.#free.forEach((b, i) => {
      if (b.byteLength >= bytes && (best < 0 || b.byteLength < this.#free[best]!.byteLength)) best = i;
    });
    if (best >= 0) {
      this.#out++;
      return this.#free.splice(best, 1)[0]!;
    }
    if (this.#out + this.#free.length >= this.max) {
      if (this.#free.length === 0) return null;
      this.#free.shift(); // all free ones are too small: one makes way for a bigger one
    }
    this.#out++;
    return new SharedArrayBuffer(bytes);
  }

  /** Returns a buffer from take(); its old views must no longer be used. */
  give(buffer: SharedArrayBuffer): void {
    this.#out--;
    if (this.#out + this.#free.length < this.max) this.#free.push(buffer);
  }

  clear(): void {
    this.#free.length = 0;
  }
}
