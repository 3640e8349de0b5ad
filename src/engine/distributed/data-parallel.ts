// What PyTorch's DistributedDataParallel does around a module, as explicit calls (libtorch has no
// C++ DDP): one broadcast of rank 0's parameters and buffers at the start, then a bucketed
// all-reduce of the gradients after each backward. Also the SyncBatchNorm conversion.
import type { Module } from '../nn/module.js';
import { BatchNormBase } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { DEFAULT_BUCKET_BYTES, type ProcessGroup } from './process-group.js';

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
}

/**
 * Data-parallel bookkeeping for a set of parameters: `reduce()` after each backward leaves every rank
 * with the average of the ranks' gradients (DDP's semantics), or the sum with `{ divisor: 1 }`.
 */
export class GradientReducer {
  readonly bucketBytes: number;
  /** Seconds spent in gradient communication so far (a bench figure). */
  seconds = 0;
  constructor(readonly group: ProcessGroup, readonly parameters: readonly Tensor[], o: DataParallelOptions = {}) {
    this.bucketBytes = o.bucketBytes ?? DEFAULT_BUCKET_BYTES;
  }
  reduce(o: { divisor?: number } = {}): { tensors: number; bytes: number } {
    const t0 = performance.now();
    try {
      return this.group.reduceGradients(this.parameters, { bucketBytes: this.bucketBytes, divisor: o.divisor ?? this.group.worldSize });
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
    }
  }
}
