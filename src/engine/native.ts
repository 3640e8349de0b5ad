// Loads the libtorch addon. Everything above this file sees only typed wrappers.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Opaque reference to a native tensor; only the engine looks inside. */
export interface Handle {
  readonly __tensorHandle: unique symbol;
}
/** Opaque reference to a native c10d process group. */
export interface GroupHandle {
  readonly __groupHandle: unique symbol;
}
/** Opaque reference to a native overlapped gradient reducer. */
export interface ReducerHandle {
  readonly __reducerHandle: unique symbol;
}
/** Opaque reference to a native random generator. */
export interface GeneratorHandle {
  readonly __generatorHandle: unique symbol;
}

type H = Handle;
type Num = number | boolean;
type Opt<T> = T | undefined | null;
type Ints = number | readonly number[];

/** The addon's functions, as src/native/*.cc define them (argument order matters). */
export interface NativeBinding {
  [op: string]: unknown;
  dispose(h: H): boolean;
  isDisposed(h: H): boolean;
  liveTensors(): number;
  fromBuffer(data: ArrayBufferView | ArrayBuffer, dtype: number, shape: readonly number[], device?: string): H;
  empty(shape: Ints, dtype?: number, device?: string): H;
  zeros(shape: Ints, dtype?: number, device?: string): H;
  ones(shape: Ints, dtype?: number, device?: string): H;
  full(shape: Ints, value: Num, dtype?: number, device?: string): H;
  eye(n: number, m?: number, dtype?: number, device?: string): H;
  arange(start: number, end: number, step: number, dtype?: number, device?: string): H;
  linspace(start: number, end: number, steps: number, dtype?: number, device?: string): H;
  rand(shape: Ints, dtype?: number, device?: string, gen?: Opt<GeneratorHandle>): H;
  randn(shape: Ints, dtype?: number, device?: string, gen?: Opt<GeneratorHandle>): H;
  randint(low: number, high: number, shape: Ints, dtype?: number, device?: string, gen?: Opt<GeneratorHandle>): H;
  randperm(n: number, dtype?: number, device?: string, gen?: Opt<GeneratorHandle>): H;
  uniform_(h: H, lo: number, hi: number, gen?: Opt<GeneratorHandle>): void;
  normal_(h: H, mean: number, std: number, gen?: Opt<GeneratorHandle>): void;
  bernoulli(h: H, p?: Opt<number>, gen?: Opt<GeneratorHandle>): H;
  multinomial(h: H, n: number, replacement?: boolean, gen?: Opt<GeneratorHandle>): H;
  shape(h: H): number[];
  strides(h: H): number[];
  dtype(h: H): number;
  device(h: H): string;
  numel(h: H): number;
  isContiguous(h: H): boolean;
  isContiguousFormat(h: H, memoryFormat: number): boolean;
  item(h: H): number | boolean;
  toBuffer(h: H): ArrayBuffer;
  to(h: H, dtype?: Opt<number>, device?: Opt<string>, copy?: boolean): H;
  newGenerator(seed: number): GeneratorHandle;
  getRngState(gen?: Opt<GeneratorHandle>): H;
  setRngState(state: H, gen?: Opt<GeneratorHandle>): void;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  buildInfo(): { torchVersion: string; cudaAvailable: boolean; cudaDeviceCount: number; config: string; parallelInfo: string };
  backward(h: H, grad?: Opt<H>, retainGraph?: Opt<boolean>, createGraph?: boolean): void;
  jitterBytes(src: Uint8Array, width: number, height: number, channels: number, ops: Int32Array, factors: Float64Array): Uint8Array;
  decodeJpeg(bytes: Uint8Array, maxPixels: number, failOn: number): { data: Uint8Array; width: number; height: number } | null;
  bytesToFloat(src: Uint8Array, width: number, height: number, channels: number, out?: Float32Array): Float32Array;
  flipBytes(src: Uint8Array, width: number, height: number, channels: number): Uint8Array;
  resizeBytes(src: Uint8Array, width: number, height: number, channels: number, boxX: number, boxY: number, boxW: number, boxH: number, outW: number, outH: number, ...window: [] | [number, number, number, number]): Uint8Array;
  /** Whether the image kernels run their AVX2 versions (x86-64 with AVX2, DML_NO_SIMD unset). */
  readonly imageSimd: boolean;
  grad(h: H): H | null;
  setGrad(h: H, g: Opt<H>): void;
  requiresGrad(h: H): boolean;
  setRequiresGrad(h: H, v: boolean): void;
  isLeaf(h: H): boolean;
  retainGrad(h: H): void;
  gradFn(h: H): string | null;
  setGradEnabled(v: boolean): boolean;
  isGradEnabled(): boolean;
  autogradGrad(outputs: H[], inputs: H[], gradOutputs?: Opt<H[]>, retainGraph?: Opt<boolean>, createGraph?: boolean, allowUnused?: boolean): (H | null)[];
  distBackends(): { gloo: boolean; nccl: boolean };
  distInit(o: {
    backend: string; rank: number; worldSize: number; store: 'tcp' | 'file'; host?: string; port?: number; isServer?: boolean;
    agentHosted?: boolean; path?: string; prefix: string; timeoutMs: number; bindHost?: string; ifname?: string; threads?: number;
  }): GroupHandle;
  distDestroy(g: GroupHandle): void;
  distBroadcast(g: GroupHandle, tensors: H[], root: number, bucketBytes?: number): void;
  distAllReduce(g: GroupHandle, tensors: H[], op: string, bucketBytes?: number): void;
  distAllGather(g: GroupHandle, t: H): H[];
  distBarrier(g: GroupHandle): void;
  distAllReduceAutograd(g: GroupHandle, t: H): H;
  distReduceGrads(g: GroupHandle, params: H[], bucketBytes: number, divisor: number): { tensors: number; bytes: number };
  distStoreSet(g: GroupHandle, key: string, value: string): void;
  distStoreGet(g: GroupHandle, key: string, timeoutMs?: number): string;
  distStoreAdd(g: GroupHandle, key: string, by: number): number;
  distReportError(g: GroupHandle, message: string): boolean;
  distLeaving(g: GroupHandle): void;
  distFailure(g: GroupHandle): { op: string; message: string; lostRanks: number[] } | null;
  distReducerNew(g: GroupHandle, params: H[], bucketBytes: number, firstBucketBytes: number): ReducerHandle;
  distReducerPrepare(r: ReducerHandle): void;
  distReducerFinish(r: ReducerHandle, divisor: number): { tensors: number; bytes: number; buckets: number; overlapped: number };
  distReducerDestroy(r: ReducerHandle): void;
  sgdStep(params: H[], bufs: (H | null)[], lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, maximize: boolean): (H | undefined)[];
}

function addonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Source layout (src/engine) and compiled layout (dist/src/engine) both reach the repo root.
  for (const up of ['../..', '../../..']) {
    const p = path.resolve(here, up, 'build/Release/dml_native.node');
    if (existsSync(p)) return p;
  }
  throw new Error('native addon build/Release/dml_native.node not found: run `npm run build:native` (needs libtorch-dev)');
}

const require = createRequire(import.meta.url);
/** Untyped call surface for the uniform ops (one tensor in, one out); typed wrappers live in tensor.ts. */
export const native = require(addonPath()) as NativeBinding;
export type NativeFn = (...args: unknown[]) => unknown;
export function op(name: string): NativeFn {
  const f = native[name];
  if (typeof f !== 'function') throw new Error(`native op ${name} is missing from the addon`);
  return f as NativeFn;
}
