// What PyTorch's DistributedDataParallel does around a module, as explicit calls (libtorch has no
// C++ DDP): one broadcast of rank 0's parameters and buffers at the start, then a bucketed
// all-reduce of the gradients after each backward. Also the SyncBatchNorm conversion.
import type { Module } from '../nn/module.js';
import { BatchNormBase } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { native, type ReducerHandle } from '../native.js';
import { DEFAULT_BUCKET_BYTES, DistributedError, type ProcessGroup } from './process-group.js';

/** Copies root's parameters and buffers into every rank's module (in place). */
export function broadcastModule(module: Module<never[], unknown>, group: ProcessGroup, root = 0): void {
  group.broadcast([...module.parameters(), ...module.buffers()], root);
}

/**
 * Makes every BatchNorm layer of the module compute training statistics over the global batch
 * (nn.SyncBatchNorm.convert_sync_batchnorm; here the layers are switched, not replaced). Returns how
 * many layers were switched.
 */
export function convertSyncBatchNorm(module: Module<never[], unknown>, group: ProcessGroup | null): number {
  let n = 0;
  for (const [, m] of module.namedModules()) {
    if (m instanceof BatchNormBase) {
      m.syncGroup = group;
      n++;
    }
  }
  return n;
}

export interface DataParallelOptions {
  /** Gradient bucket size in bytes (default 25 MiB, DDP's bucket_cap_mb). */
  bucketBytes?: number;
  /**
   * Start each bucket's all-reduce during the backward pass, as soon as its gradients are ready
   * (DDP's overlap); call prepare() before every backward() then. Default false: everything is
   * reduced after the backward pass, in one coalesced call, which measured as fast or faster on a
   * 2-core machine where Gloo's threads compete with the backward pass for the cores.
   */
  overlap?: boolean;
}

/** DDP's small first bucket: the last layers' gradients, which arrive first, go out at once. */
const FIRST_BUCKET_BYTES = 2 ** 20;

/**
 * Data-parallel bookkeeping for a set of parameters: `reduce()` after each backward leaves every rank
 * with the average of the ranks' gradients (DDP's semantics), or the sum with `{ divisor: 1 }`.
 * With overlap, `prepare()` before each backward lets buckets go out while autograd still runs;
 * their layout is learnt at the first step (the parameters that got gradients, in the order rank 0
 * saw them arrive) and is the same on every rank.
 */
export class GradientReducer {
  readonly bucketBytes: number;
  readonly overlap: boolean;
  /** Seconds spent in reduce() so far: the communication not hidden behind backward. */
  seconds = 0;
  #r: ReducerHandle | null = null;
  constructor(
    readonly group: ProcessGroup,
    readonly parameters: readonly Tensor[],
    o: DataParallelOptions = {},
  ) {
    this.bucketBytes = o.bucketBytes ?? DEFAULT_BUCKET_BYTES;
    this.overlap = o.overlap ?? false;
    if (!(this.bucketBytes > 0))
      throw new RangeError(`GradientReducer: bucketBytes must be positive, got ${this.bucketBytes}`);
    if (this.overlap) {
      this.#r = native.distReducerNew(
        group.handle,
        parameters.map((p) => p.handle),
        Math.round(this.bucketBytes),
        Math.min(FIRST_BUCKET_BYTES, Math.round(this.bucketBytes)),
      );
    }
  }
  /** Arms the hooks for the next backward (overlap only; a no-op otherwise). */
  prepare(): void {
    if (this.#r) native.distReducerPrepare(this.#r);
  }
  reduce(o: { divisor?: number } = {}): { tensors: number; bytes: number; buckets?: number; overlapped?: number } {
    const t0 = performance.now();
    const divisor = o.divisor ?? this.group.worldSize;
    try {
      if (!this.#r) return this.group.reduceGradients(this.parameters, { bucketBytes: this.bucketBytes, divisor });
      try {
        return native.distReducerFinish(this.#r, divisor);
      } catch (e) {
        const err = e as Error & { lostRanks?: number[]; code?: string };
        if (err.code === 'DML_DISTRIBUTED')
          throw new DistributedError(err.message, this.group.rank, 'gradient all-reduce', err.lostRanks ?? [], {
            cause: e,
          });
        throw e;
      }
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
    }
  }
  /** Removes the hooks. */
  dispose(): void {
    if (this.#r) native.distReducerDestroy(this.#r);
    this.#r = null;
  }
}
