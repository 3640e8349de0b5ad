// A c10d process group: libtorch's own ProcessGroupGloo (ProcessGroupNCCL when the libtorch has CUDA
// and NCCL) over a TCPStore or FileStore rendezvous, with the collectives data-parallel training
// needs. Collectives block the calling thread, like torch.distributed's synchronous calls.
import { native, type GroupHandle, type Handle } from '../native.js';
import { Tensor, tensor, zeros } from '../tensor.js';
import { cat } from '../ops.js';
import { noGrad } from '../autograd.js';
import { tidy } from '../scope.js';
import { isLoopback, launchEnvFrom, type LaunchEnv } from './env.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

export type StoreOptions =
  /** TCPStore at host:port: rank 0 serves it unless `agentHosted` (a launcher serves it). */
  | { kind: 'tcp'; host: string; port: number; agentHosted?: boolean }
  /** FileStore: a file every rank can reach (a shared filesystem across machines). */
  | { kind: 'file'; path: string };

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  store: StoreOptions;
  backend?: Backend;
  /** Limit for the rendezvous and for every collective (default 60 s). */
  timeoutMs?: number;
  localRank?: number;
  localWorldSize?: number;
  /**
   * Network interface for Gloo (default: GLOO_SOCKET_IFNAME, else loopback for a loopback store, else the host name's
   * address).
   */
  ifname?: string;
  /** Key prefix of this group in the store (default: one per group created in this process). */
  prefix?: string;
}

/** A failed collective or rendezvous: which rank saw it, in which operation, and which ranks were lost. */
export class DistributedError extends Error {
  constructor(
    message: string,
    readonly rank: number,
    readonly op: string,
    readonly lostRanks: readonly number[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DistributedError';
  }
}

/** Default gradient bucket: PyTorch DDP's bucket_cap_mb = 25. */
export const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

const available = native.distBackends();
let groupsCreated = 0;

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly backend: Backend;
  /**
   * Where this rank's collectives run: NCCL reduces CUDA tensors only, each rank on its own GPU
   * (cuda:LOCAL_RANK); Gloo on the CPU. Tensors the group makes itself (allReduceNumbers) live here.
   */
  readonly device: 'cpu' | `cuda:${number}`;
  readonly timeoutMs: number;
  #g: GroupHandle | null;

  /** Which backends this addon was built with. */
  static backends(): { gloo: boolean; nccl: boolean } {
    return { ...available };
  }

  /** Joins the group: blocks until every rank has reached the rendezvous (or the timeout). */
  constructor(o: ProcessGroupOptions) {
    const backend = o.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl')
      throw new RangeError(`ProcessGroup: backend must be 'gloo' or 'nccl', got '${String(backend)}'`);
    if (!available[backend]) {
      throw new Error(
        backend === 'nccl'
          ? 'ProcessGroup: this build has no NCCL; build against a CUDA libtorch with NCCL (LIBTORCH=/path npm run ' +
              'setup) or use gloo'
          : 'ProcessGroup: this build has no Gloo; install libgloo-dev and rebuild the addon (npm run build:native)',
      );
    }
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1)
      throw new RangeError(`ProcessGroup: worldSize must be a positive integer, got ${o.worldSize}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize)
      throw new RangeError(`ProcessGroup: rank ${o.rank} is not in [0, ${o.worldSize})`);
    const timeoutMs = o.timeoutMs ?? 60_000;
    if (!(timeoutMs > 0)) throw new RangeError(`ProcessGroup: timeoutMs must be positive, got ${timeoutMs}`);
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.localRank = o.localRank ?? o.rank;
    this.localWorldSize = o.localWorldSize ?? o.worldSize;
    this.backend = backend;
    this.device = backend === 'nccl' ? `cuda:${this.localRank}` : 'cpu';
    this.timeoutMs = timeoutMs;
    const ifname = o.ifname ?? process.env.GLOO_SOCKET_IFNAME;
    const s = o.store;
    if (s.kind === 'tcp' && (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535))
      throw new RangeError(`ProcessGroup: port must be in [1, 65535], got ${s.port}`);
    const prefix = o.prefix ?? `dml_pg_${groupsCreated++}/`;
    this.#g = native.distInit({
      backend,
      rank: o.rank,
      worldSize: o.worldSize,
      timeoutMs: Math.round(timeoutMs),
      prefix,
      ...(s.kind === 'tcp'
        ? {
            store: 'tcp' as const,
            host: s.host,
            port: s.port,
            agentHosted: s.agentHosted ?? false,
            isServer: !s.agentHosted && o.rank === 0,
          }
        : { store: 'file' as const, path: s.path }),
      ...(ifname ? { ifname } : s.kind === 'tcp' && isLoopback(s.host) ? { bindHost: '127.0.0.1' } : {}),
    });
  }

  /**
   * The group described by the launch environment (torchrun's variables), or null when the
   * process runs alone.
   */
  static fromEnv(
    o: { env?: Readonly<Record<string, string | undefined>>; backend?: Backend; timeoutMs?: number } = {},
  ): ProcessGroup | null {
    const e = launchEnvFrom(o.env);
    return e ? ProcessGroup.fromLaunchEnv(e, o) : null;
  }

  static fromLaunchEnv(e: LaunchEnv, o: { backend?: Backend; timeoutMs?: number } = {}): ProcessGroup {
    return new ProcessGroup({
      rank: e.rank,
      worldSize: e.worldSize,
      localRank: e.localRank,
      localWorldSize: e.localWorldSize,
      store: { kind: 'tcp', host: e.masterAddr, port: e.masterPort, agentHosted: e.agentHosted },
      prefix: e.agentHosted ? `/worker/attempt_${e.attempt}/dml_pg_${groupsCreated++}/` : undefined,
      ...o,
    });
  }

  get handle(): GroupHandle {
    if (this.#g === null) throw new Error(`rank ${this.rank}: the process group was destroyed`);
    return this.#g;
  }
  get isDestroyed(): boolean {
    return this.#g === null;
  }

  #call<T>(op: string, fn: (g: GroupHandle) => T): T {
    try {
      return fn(this.handle);
    } catch (e) {
      const err = e as Error & { lostRanks?: number[]; code?: string };
      if (err.code === 'DML_DISTRIBUTED')
        throw new DistributedError(err.message, this.rank, op, err.lostRanks ?? [], { cause: e });
      throw e;
    }
  }

  /** Copies root's values into the tensors of every rank (in place; coalesced into few messages). */
  broadcast(tensors: Tensor | readonly Tensor[], root = 0): void {
    const ts = tensors instanceof Tensor ? [tensors] : tensors;
    if (ts.length === 0) return;
    this.#call('broadcast', (g) =>
      native.distBroadcast(
        g,
        ts.map((t) => t.handle),
        root,
      ),
    );
  }

  /** Reduces over ranks in place; 'avg' is the sum divided by the world size. */
  allReduce(tensors: Tensor | readonly Tensor[], op: ReduceOp = 'sum'): void {
    const ts = tensors instanceof Tensor ? [tensors] : tensors;
    if (ts.length === 0) return;
    this.#call('all-reduce', (g) =>
      native.distAllReduce(
        g,
        ts.map((t) => t.handle),
        op === 'avg' ? 'sum' : op,
      ),
    );
    if (op === 'avg')
      noGrad(() => {
        for (const t of ts) t.detach().div_(this.worldSize).dispose();
      });
  }

  /** Sum of plain numbers over ranks, in float64. */
  allReduceNumbers(values: readonly number[], op: Exclude<ReduceOp, 'avg'> = 'sum'): number[] {
    return tidy(() => {
      const t = tensor(Float64Array.from(values), { device: this.device });
      this.allReduce(t, op);
      return Array.from(t.data() as Float64Array);
    });
  }

  /** Every rank's tensor, in rank order (all must have the same shape and dtype). */
  allGather(t: Tensor): Tensor[] {
    return this.#call('all-gather', (g) => native.distAllGather(g, t.handle)).map((h: Handle) => new Tensor(h));
  }

  /** Every rank's tensor, in rank order, when their first dimensions differ (padded in transit). */
  allGatherVariable(t: Tensor): Tensor[] {
    const sizes = this.allReduceNumbers(
      Array.from({ length: this.worldSize }, (_, r) => (r === this.rank ? (t.shape[0] ?? 0) : 0)),
    );
    const max = Math.max(...sizes);
    if (sizes.every((s) => s === max)) return this.allGather(t);
    const parts = tidy(() => {
      const src = t.detach();
      const fill = zeros([max - (t.shape[0] ?? 0), ...t.shape.slice(1)], { dtype: t.dtype, device: t.device });
      const padded = fill.shape[0] === 0 ? src : cat([src, fill]);
      return this.allGather(padded);
    });
    return parts.map((p, r) => {
      if (sizes[r] === max) return p;
      const s = p.narrow(0, 0, sizes[r]!).clone();
      p.dispose();
      return s;
    });
  }

  /** Blocks until every rank has called barrier(). */
  barrier(): void {
    this.#call('barrier', (g) => native.distBarrier(g));
  }

  /** Sum over ranks whose gradient is also summed over ranks (torch.distributed.nn.all_reduce). */
  allReduceAutograd(t: Tensor): Tensor {
    return new Tensor(this.#call('all-reduce', (g) => native.distAllReduceAutograd(g, t.handle)));
  }

  /**
   * Sums the gradients of `params` over ranks in flattened buckets of at most bucketBytes, then
   * divides them by `divisor` (the world size for DDP's average). Parameters without a gradient are
   * skipped; every rank must have gradients for the same ones.
   */
  reduceGradients(
    params: readonly Tensor[],
    o: { bucketBytes?: number; divisor?: number } = {},
  ): { tensors: number; bytes: number } {
    const cap = o.bucketBytes ?? DEFAULT_BUCKET_BYTES;
    if (!(cap > 0)) throw new RangeError(`reduceGradients: bucketBytes must be positive, got ${cap}`);
    return this.#call('gradient all-reduce', (g) =>
      native.distReduceGrads(
        g,
        params.map((p) => p.handle),
        Math.round(cap),
        o.divisor ?? this.worldSize,
      ),
    );
  }

  /** The rendezvous store under this group's prefix: small strings every rank can read. */
  get store(): {
    set(key: string, value: string): void;
    get(key: string, timeoutMs?: number): string;
    add(key: string, by: number): number;
  } {
    return {
      set: (k, v) => native.distStoreSet(this.handle, k, v),
      get: (k, t) => native.distStoreGet(this.handle, k, t ?? this.timeoutMs),
      add: (k, by) => native.distStoreAdd(this.handle, k, by),
    };
  }

  /** Leaves a message for the other ranks to quote when they find this one gone. Best effort. */
  reportError(message: string): boolean {
    if (this.#g === null) return false;
    try {
      return native.distReportError(this.#g, message.slice(0, 2000));
    } catch {
      return false;
    }
  }

  /** The first failed collective's diagnosis, if any (the group is unusable after one). */
  failure(): { op: string; message: string; lostRanks: number[] } | null {
    return this.#g === null ? null : native.distFailure(this.#g);
  }

  /**
   * The orderly end of a job, on every rank: a barrier, then the ranks that connect to the store
   * leave before the one that hosts it (libtorch 1.13's store clients take a host that vanishes
   * under them for a failure), then destroy().
   */
  leave(): void {
    this.barrier();
    native.distLeaving(this.handle);
    const hosts = this.rank === 0;
    if (!hosts) {
      this.store.add('dml/left', 1);
    } else {
      const until = Date.now() + Math.min(this.timeoutMs, 10_000);
      while (this.store.add('dml/left', 0) < this.worldSize - 1 && Date.now() < until)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    this.destroy();
  }

  /** Stops the heartbeat and releases the backend. Idempotent. */
  destroy(): void {
    if (this.#g === null) return;
    native.distDestroy(this.#g);
    this.#g = null;
  }
}
