// The typed Tensor: a thin, PyTorch-shaped face over a libtorch tensor handle.
import { native, op, type GeneratorHandle, type Handle, type NativeBinding } from './native.js';
import { dtypeCode, dtypeName, dtypeOfArray, viewAs, type DType, type TypedArray } from './dtype.js';
import { track } from './scope.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
/** Nested JS arrays as `tolist()` returns them. */
export type NestedArray = number | boolean | NestedArray[];

const h = (x: TensorOrScalar): Handle | Scalar => (x instanceof Tensor ? x.handle : x);

function dimsArg(dim: number | readonly number[]): readonly number[];
function dimsArg(dim: number | readonly number[] | undefined): readonly number[] | undefined;
function dimsArg(dim: number | readonly number[] | undefined): readonly number[] | undefined {
  return dim === undefined ? undefined : typeof dim === 'number' ? [dim] : dim;
}

// Uniform one-tensor-in ops, bound once so each call is a direct native call.
const U = {
  neg: op('neg'),
  exp: op('exp'),
  log: op('log'),
  log1p: op('log1p'),
  expm1: op('expm1'),
  log2: op('log2'),
  sqrt: op('sqrt'),
  rsqrt: op('rsqrt'),
  abs: op('abs'),
  sign: op('sign'),
  floor: op('floor'),
  ceil: op('ceil'),
  round: op('round'),
  trunc: op('trunc'),
  sin: op('sin'),
  cos: op('cos'),
  tan: op('tan'),
  acos: op('acos'),
  relu: op('relu'),
  sigmoid: op('sigmoid'),
  tanh: op('tanh'),
  gelu: op('gelu'),
  geluTanh: op('geluTanh'),
  silu: op('silu'),
  square: op('square'),
  reciprocal: op('reciprocal'),
  lgamma: op('lgamma'),
  digamma: op('digamma'),
  erf: op('erf'),
  isnan: op('isnan'),
  isinf: op('isinf'),
  isfinite: op('isfinite'),
  logicalNot: op('logicalNot'),
  t: op('t'),
  contiguous: op('contiguous'),
  clone: op('clone'),
  detach: op('detach'),
} as const;
const B = {
  add: op('add'),
  sub: op('sub'),
  mul: op('mul'),
  div: op('div'),
  pow: op('pow'),
  remainder: op('remainder'),
  fmod: op('fmod'),
  eq: op('eq'),
  ne: op('ne'),
  lt: op('lt'),
  le: op('le'),
  gt: op('gt'),
  ge: op('ge'),
  maximum: op('maximum'),
  minimum: op('minimum'),
  logicalAnd: op('logicalAnd'),
  logicalOr: op('logicalOr'),
  logicalXor: op('logicalXor'),
  matmul: op('matmul'),
  mm: op('mm'),
  bmm: op('bmm'),
  outer: op('outer'),
  atan2: op('atan2'),
} as const;

// The ops a method calls with its own handle first, by what they return: #n, #pair and #list
// accept only these names, and the rest of the arguments must match the op's table signature.
type OpsReturning<R> = {
  [K in keyof NativeBinding]: NativeBinding[K] extends (x: Handle, ...rest: never[]) => R ? K : never;
}[keyof NativeBinding];
type RestAfterHandle<F> = F extends (x: Handle, ...rest: infer A) => unknown ? A : never;
type TensorOp = OpsReturning<Handle>;
type PairOp = OpsReturning<[Handle, Handle]>;
type ListOp = OpsReturning<Handle[]>;

// The GC backstop: frees the native tensor of a Tensor that was collected without dispose().
// Registration is the costly part of creating a tensor, so it is deferred: tensors inside tidy()
// are registered only if they escape it (onEscape), and escaped ones wait in a small queue that is
// flushed in bulk — most temporaries are disposed before then and never need registering.
const finalizer = new FinalizationRegistry<Handle>((h) => {
  native.dispose(h);
});
const pending: Tensor[] = [];
let flushScheduled = false;
function flushPending(): void {
  flushScheduled = false;
  // No unregister token: unregistering costs more than the op. A disposed tensor's slot id is
  // stale by then, and native dispose() of a stale id is a checked no-op.
  for (const t of pending) if (!t.isDisposed) finalizer.register(t, t.handle);
  pending.length = 0;
}

/** torch.contiguous_format / torch.channels_last. */
export type MemoryFormat = 'contiguousFormat' | 'channelsLast';

export class Tensor {
  #h: Handle | null;
  #watched = false;

  /** Wraps a native handle; user code creates tensors through tensor(), zeros(), ops... */
  constructor(handle: Handle) {
    this.#h = handle;
    if (!track(this)) this.onEscape();
  }

  /** Hands the tensor to the GC backstop (see scope.ts). */
  onEscape(): void {
    if (this.#watched || this.#h === null) return;
    this.#watched = true;
    pending.push(this);
    if (pending.length >= 512) flushPending();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushPending).unref();
    }
  }

  /** The native handle; throws once the tensor is disposed. */
  get handle(): Handle {
    if (this.#h === null) throw new Error('tensor was disposed');
    return this.#h;
  }
  get isDisposed(): boolean {
    return this.#h === null;
  }
  /** Releases the native memory now; later use throws. Idempotent. */
  dispose(): void {
    if (this.#h === null) return;
    native.dispose(this.#h);
    this.#h = null;
  }

  // ---- metadata ----
  get shape(): number[] {
    return native.shape(this.handle);
  }
  get dtype(): DType {
    return dtypeName(native.dtype(this.handle));
  }
  get device(): string {
    return native.device(this.handle);
  }
  get ndim(): number {
    return native.shape(this.handle).length;
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  numel(): number {
    return native.numel(this.handle);
  }
  size(dim?: number): number | number[] {
    const s = this.shape;
    if (dim === undefined) return s;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dims`);
    return s[d]!;
  }
  isContiguous(memoryFormat?: MemoryFormat): boolean {
    return memoryFormat === undefined
      ? native.isContiguous(this.handle)
      : native.isContiguousFormat(this.handle, memoryFormat === 'channelsLast' ? 1 : 0);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data out ----
  /** A copy of the elements as a TypedArray (float16/bfloat16 come back as Float32Array). */
  data(): TypedArray {
    const d = this.dtype;
    if (d === 'float16' || d === 'bfloat16') {
      const f = this.to('float32');
      try {
        return f.data();
      } finally {
        f.dispose();
      }
    }
    return viewAs(d, native.toBuffer(this.handle));
  }
  /** Elements as plain numbers (int64 converted with Number()). */
  dataNumbers(): number[] {
    const a = this.data();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }
  item(): number {
    const v = native.item(this.handle);
    return typeof v === 'boolean' ? Number(v) : v;
  }
  /** Nested arrays, like PyTorch's tolist(). */
  tolist(): NestedArray {
    const flat = this.dataNumbers();
    const isBool = this.dtype === 'bool';
    const shape = this.shape;
    let i = 0;
    const build = (d: number): NestedArray => {
      if (d === shape.length) {
        const v = flat[i++]!;
        return isBool ? v !== 0 : v;
      }
      const out: NestedArray[] = [];
      for (let k = 0; k < shape[d]!; k++) out.push(build(d + 1));
      return out;
    };
    return build(0);
  }

  // ---- conversion ----
  /**
   * A copy cast to a dtype and/or moved to a device. `nonBlocking` lets a copy from pinned host
   * memory to a GPU (or back) run asynchronously, as PyTorch's non_blocking=True; elsewhere it is
   * the plain copy.
   */
  to(dtypeOrDevice: DType | Device | string, device?: Device | string, o: { nonBlocking?: boolean } = {}): Tensor {
    let dt: number | undefined;
    let dev: string | undefined = device;
    if (dtypeOrDevice === 'cpu' || dtypeOrDevice.startsWith('cuda')) dev = dtypeOrDevice;
    else dt = dtypeCode(dtypeOrDevice as DType);
    return new Tensor(native.to(this.handle, dt, dev, false, o.nonBlocking === true));
  }
  /** A page-locked copy for asynchronous copies to a GPU; where no GPU is visible, a new handle on the same data. */
  pinMemory(): Tensor {
    return new Tensor(native.pinMemory(this.handle));
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }

  // ---- element-wise ----
  neg(): Tensor {
    return this.#u(U.neg);
  }
  exp(): Tensor {
    return this.#u(U.exp);
  }
  log(): Tensor {
    return this.#u(U.log);
  }
  log1p(): Tensor {
    return this.#u(U.log1p);
  }
  expm1(): Tensor {
    return this.#u(U.expm1);
  }
  log2(): Tensor {
    return this.#u(U.log2);
  }
  sqrt(): Tensor {
    return this.#u(U.sqrt);
  }
  rsqrt(): Tensor {
    return this.#u(U.rsqrt);
  }
  abs(): Tensor {
    return this.#u(U.abs);
  }
  sign(): Tensor {
    return this.#u(U.sign);
  }
  floor(): Tensor {
    return this.#u(U.floor);
  }
  ceil(): Tensor {
    return this.#u(U.ceil);
  }
  round(): Tensor {
    return this.#u(U.round);
  }
  trunc(): Tensor {
    return this.#u(U.trunc);
  }
  sin(): Tensor {
    return this.#u(U.sin);
  }
  cos(): Tensor {
    return this.#u(U.cos);
  }
  tan(): Tensor {
    return this.#u(U.tan);
  }
  acos(): Tensor {
    return this.#u(U.acos);
  }
  relu(): Tensor {
    return this.#u(U.relu);
  }
  sigmoid(): Tensor {
    return this.#u(U.sigmoid);
  }
  tanh(): Tensor {
    return this.#u(U.tanh);
  }
  /** GELU: exact (x Φ(x), the default) or the tanh approximation, as torch.nn.GELU(approximate). */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return this.#u(approximate === 'tanh' ? U.geluTanh : U.gelu);
  }
  silu(): Tensor {
    return this.#u(U.silu);
  }
  square(): Tensor {
    return this.#u(U.square);
  }
  reciprocal(): Tensor {
    return this.#u(U.reciprocal);
  }
  lgamma(): Tensor {
    return this.#u(U.lgamma);
  }
  digamma(): Tensor {
    return this.#u(U.digamma);
  }
  erf(): Tensor {
    return this.#u(U.erf);
  }
  isnan(): Tensor {
    return this.#u(U.isnan);
  }
  isinf(): Tensor {
    return this.#u(U.isinf);
  }
  isfinite(): Tensor {
    return this.#u(U.isfinite);
  }
  logicalNot(): Tensor {
    return this.#u(U.logicalNot);
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return this.#n('softplus', beta, threshold);
  }
  leakyRelu(slope = 0.01): Tensor {
    return this.#n('leakyRelu', slope);
  }
  /** clamp(min?, max?) with numbers, or with tensors (broadcast). */
  clamp(min?: TensorOrScalar | null, max?: TensorOrScalar | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo =
        min === null || min === undefined ? undefined : min instanceof Tensor ? min : full([], min, this.dtype);
      const hi =
        max === null || max === undefined ? undefined : max instanceof Tensor ? max : full([], max, this.dtype);
      try {
        return this.#n('clampTensor', lo?.handle, hi?.handle);
      } finally {
        // The 0-d bound made from a number is ours; outside tidy() it would stay alive until GC.
        if (lo !== undefined && lo !== min) lo.dispose();
        if (hi !== undefined && hi !== max) hi.dispose();
      }
    }
    return this.#n('clamp', min ?? undefined, max ?? undefined);
  }
  clampMin(min: number): Tensor {
    return this.clamp(min, null);
  }
  clampMax(max: number): Tensor {
    return this.clamp(null, max);
  }

  add(other: TensorOrScalar, alpha?: number): Tensor {
    return new Tensor(B.add(this.handle, h(other), alpha));
  }
  sub(other: TensorOrScalar, alpha?: number): Tensor {
    return new Tensor(B.sub(this.handle, h(other), alpha));
  }
  /** other - this, for a scalar other (PyTorch's rsub). */
  rsub(other: Scalar): Tensor {
    return this.#n('rsub', other);
  }
  mul(other: TensorOrScalar): Tensor {
    return this.#b(B.mul, other);
  }
  /** True division; roundingMode 'trunc' | 'floor' as in torch.div. */
  div(other: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    return new Tensor(B.div(this.handle, h(other), roundingMode));
  }
  pow(exponent: TensorOrScalar): Tensor {
    return this.#b(B.pow, exponent);
  }
  remainder(other: TensorOrScalar): Tensor {
    return this.#b(B.remainder, other);
  }
  fmod(other: TensorOrScalar): Tensor {
    return this.#b(B.fmod, other);
  }
  eq(other: TensorOrScalar): Tensor {
    return this.#b(B.eq, other);
  }
  ne(other: TensorOrScalar): Tensor {
    return this.#b(B.ne, other);
  }
  lt(other: TensorOrScalar): Tensor {
    return this.#b(B.lt, other);
  }
  le(other: TensorOrScalar): Tensor {
    return this.#b(B.le, other);
  }
  gt(other: TensorOrScalar): Tensor {
    return this.#b(B.gt, other);
  }
  ge(other: TensorOrScalar): Tensor {
    return this.#b(B.ge, other);
  }
  maximum(other: TensorOrScalar): Tensor {
    return this.#b(B.maximum, other);
  }
  minimum(other: TensorOrScalar): Tensor {
    return this.#b(B.minimum, other);
  }
  logicalAnd(other: Tensor): Tensor {
    return this.#bt(B.logicalAnd, other);
  }
  logicalOr(other: Tensor): Tensor {
    return this.#bt(B.logicalOr, other);
  }
  logicalXor(other: Tensor): Tensor {
    return this.#bt(B.logicalXor, other);
  }
  atan2(other: Tensor): Tensor {
    return this.#bt(B.atan2, other);
  }
  lerp(end: Tensor, weight: number): Tensor {
    return this.#n('lerp', end.handle, weight);
  }

  // ---- reductions ----
  sum(dim?: number | readonly number[], keepdim = false, dtype?: DType): Tensor {
    return this.#n('sum', dimsArg(dim), keepdim, dtype === undefined ? undefined : dtypeCode(dtype));
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return this.#n('mean', dimsArg(dim), keepdim);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return this.#n('prod', dim, keepdim);
  }
  /** max() over all elements, or max(dim) → { values, indices }. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.#n('maxAll');
    return this.#pair('maxDim', dim, keepdim);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.#n('minAll');
    return this.#pair('minDim', dim, keepdim);
  }
  amax(dim: number | readonly number[], keepdim = false): Tensor {
    return this.#n('amax', dimsArg(dim), keepdim);
  }
  amin(dim: number | readonly number[], keepdim = false): Tensor {
    return this.#n('amin', dimsArg(dim), keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return this.#n('argmax', dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return this.#n('argmin', dim, keepdim);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return this.#n('logsumexp', dimsArg(dim), keepdim);
  }
  softmax(dim: number): Tensor {
    return this.#n('softmax', dim);
  }
  logSoftmax(dim: number): Tensor {
    return this.#n('logSoftmax', dim);
  }
  /** p-norm over all elements or over dims (p defaults to 2). */
  norm(p = 2, dim?: number | readonly number[], keepdim = false): Tensor {
    return this.#n('norm', p, dimsArg(dim), keepdim);
  }
  cumsum(dim: number): Tensor {
    return this.#n('cumsum', dim);
  }
  cumprod(dim: number): Tensor {
    return this.#n('cumprod', dim);
  }
  any(dim?: number, keepdim = false): Tensor {
    return this.#n('any', dim, keepdim);
  }
  all(dim?: number, keepdim = false): Tensor {
    return this.#n('all', dim, keepdim);
  }
  /** Variance with `correction` (1 = unbiased, as torch.var's default). */
  var(dim?: number | readonly number[], correction = 1, keepdim = false): Tensor {
    return this.#n('var', dimsArg(dim), correction, keepdim);
  }
  std(dim?: number | readonly number[], correction = 1, keepdim = false): Tensor {
    return this.#n('std', dimsArg(dim), correction, keepdim);
  }

  // ---- linear algebra ----
  matmul(other: Tensor): Tensor {
    return this.#bt(B.matmul, other);
  }
  mm(other: Tensor): Tensor {
    return this.#bt(B.mm, other);
  }
  bmm(other: Tensor): Tensor {
    return this.#bt(B.bmm, other);
  }
  outer(other: Tensor): Tensor {
    return this.#bt(B.outer, other);
  }
  t(): Tensor {
    return this.#u(U.t);
  }
  get T(): Tensor {
    return this.t();
  }
  diag(diagonal = 0): Tensor {
    return this.#n('diag', diagonal);
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return this.#n('diagonal', offset, dim1, dim2);
  }
  triu(diagonal = 0): Tensor {
    return this.#n('triu', diagonal);
  }
  tril(diagonal = 0): Tensor {
    return this.#n('tril', diagonal);
  }

  // ---- shape and indexing ----
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return this.#n('reshape', flatShape(shape));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return this.#n('view', flatShape(shape));
  }
  squeeze(dim?: number): Tensor {
    return this.#n('squeeze', dim);
  }
  unsqueeze(dim: number): Tensor {
    return this.#n('unsqueeze', dim);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return this.#n('flatten', startDim, endDim);
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return this.#n('expand', flatShape(shape));
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }
  repeat(...times: number[] | [readonly number[]]): Tensor {
    return this.#n('repeat', flatShape(times));
  }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return this.#n('repeatInterleave', repeats, dim);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return this.#n('transpose', dim0, dim1);
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return this.#n('permute', flatShape(dims));
  }
  /**
   * Contiguous in the given memory layout: 'contiguousFormat' (NCHW, the default) or 'channelsLast'
   * (NHWC strides for a 4-D tensor, as torch.channels_last: the same shape and values). Convolutions
   * on channels-last inputs and weights keep that layout through the network.
   */
  contiguous(memoryFormat?: MemoryFormat): Tensor {
    return memoryFormat === undefined
      ? this.#u(U.contiguous)
      : this.#n('contiguousFormat', memoryFormat === 'channelsLast' ? 1 : 0);
  }
  clone(): Tensor {
    return this.#u(U.clone);
  }
  /** A tensor sharing storage but cut from the autograd graph. */
  detach(): Tensor {
    return this.#u(U.detach);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return this.#n('narrow', dim, start, length);
  }
  /** Python's x[start:end:step] along dim; negative and omitted bounds as in Python. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return this.#n('slice', dim, start, end, step);
  }
  select(dim: number, index: number): Tensor {
    return this.#n('select', dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return this.#n('indexSelect', dim, index.handle);
  }
  gather(dim: number, index: Tensor): Tensor {
    return this.#n('gather', dim, index.handle);
  }
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    return this.#n('scatter', dim, index.handle, h(src));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return this.#n('scatterAdd', dim, index.handle, src.handle);
  }
  indexAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return this.#n('indexAdd', dim, index.handle, src.handle);
  }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return this.#n('maskedFill', mask.handle, h(value));
  }
  maskedSelect(mask: Tensor): Tensor {
    return this.#n('maskedSelect', mask.handle);
  }
  nonzero(): Tensor {
    return this.#n('nonzero');
  }
  /** Advanced indexing x[i0, i1, ...]; null keeps a whole dim. */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return this.#n('index', indexHandles(indices));
  }
  /** Out-of-place x[indices] = values (accumulate adds instead). */
  indexPut(indices: readonly (Tensor | null)[], values: TensorOrScalar, accumulate = false): Tensor {
    return this.#n('indexPut', indexHandles(indices), h(values), accumulate);
  }
  flip(dims: number | readonly number[]): Tensor {
    return this.#n('flip', dimsArg(dims));
  }
  roll(shifts: number | readonly number[], dims: number | readonly number[]): Tensor {
    return this.#n('roll', dimsArg(shifts), dimsArg(dims));
  }
  /** Constant padding, PyTorch F.pad order: last dim first ([left, right, top, bottom, ...]). */
  pad(padding: readonly number[], value = 0): Tensor {
    return this.#n('pad', padding, value);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return this.#list('chunk', chunks, dim);
  }
  split(size: number, dim = 0): Tensor[] {
    return this.#list('split', size, dim);
  }
  unbind(dim = 0): Tensor[] {
    return this.#list('unbind', dim);
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    return this.#pair('topk', k, dim, largest, sorted);
  }
  sort(dim = -1, descending = false, stable = false): { values: Tensor; indices: Tensor } {
    return this.#pair('sort', dim, descending, stable);
  }
  argsort(dim = -1, descending = false, stable = false): Tensor {
    return this.#n('argsort', dim, descending, stable);
  }
  oneHot(numClasses = -1): Tensor {
    return this.#n('oneHot', numClasses);
  }
  bincount(weights?: Tensor, minlength = 0): Tensor {
    return this.#n('bincount', weights?.handle, minlength);
  }
  /** Sorted unique values with the inverse mapping and counts (torch.unique(sorted, return_inverse, return_counts)). */
  unique(): { values: Tensor; inverse: Tensor; counts: Tensor } {
    const [values, inverse, counts] = this.#list('unique');
    return { values: values!, inverse: inverse!, counts: counts! };
  }

  // ---- in-place (used by optimisers and init; they bypass autograd only under noGrad) ----
  add_(other: TensorOrScalar, alpha?: number): this {
    native.add_(this.handle, h(other), alpha);
    return this;
  }
  sub_(other: TensorOrScalar, alpha?: number): this {
    native.sub_(this.handle, h(other), alpha);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    native.mul_(this.handle, h(other));
    return this;
  }
  div_(other: TensorOrScalar): this {
    native.div_(this.handle, h(other));
    return this;
  }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcmul_(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcdiv_(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  lerp_(end: Tensor, weight: number): this {
    native.lerp_(this.handle, end.handle, weight);
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this.handle, src.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.handle);
    return this;
  }
  fill_(value: Scalar): this {
    native.fill_(this.handle, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    native.clamp_(this.handle, min ?? undefined, max ?? undefined);
    return this;
  }
  sqrt_(): this {
    native.sqrt_(this.handle);
    return this;
  }
  /** ReLU in place, tracked by autograd like torch's relu_ (its backward needs only the result). */
  relu_(): this {
    native.relu_(this.handle);
    return this;
  }
  maskedFill_(mask: Tensor, value: Scalar): this {
    native.maskedFill_(this.handle, mask.handle, value);
    return this;
  }
  // The parameter stays loose (any { handle }): the addon checks the generator tag itself, so a
  // tensor passed by mistake is refused with a message rather than by the type system alone.
  uniform_(low = 0, high = 1, generator?: { handle: unknown }): this {
    native.uniform_(this.handle, low, high, generator?.handle as GeneratorHandle | undefined);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { handle: unknown }): this {
    native.normal_(this.handle, mean, std, generator?.handle as GeneratorHandle | undefined);
    return this;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.handle, value);
    return this;
  }
  /** The accumulated gradient (a new handle each call), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g?.handle);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  get gradFn(): string | null {
    return native.gradFn(this.handle);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient?.handle, options.retainGraph, options.createGraph ?? false);
  }

  // ---- private call helpers ----
  #u(f: (x: Handle) => Handle): Tensor {
    return new Tensor(f(this.handle));
  }
  #b(f: (x: Handle, other: Handle | Scalar) => Handle, other: TensorOrScalar): Tensor {
    return new Tensor(f(this.handle, h(other)));
  }
  // Tensor-only ops; h() rather than other.handle so a number from untyped JS still reaches the
  // addon and gets its "expected a tensor" message.
  #bt(f: (x: Handle, other: Handle) => Handle, other: Tensor): Tensor {
    return new Tensor(f(this.handle, h(other) as Handle));
  }
  // TypeScript cannot relate native[name] to the arguments of a generic K, so the call goes through
  // the signature the constraint guarantees; callers are checked against the op's own signature.
  #n<K extends TensorOp>(name: K, ...args: RestAfterHandle<NativeBinding[K]>): Tensor {
    return new Tensor(
      (native[name] as (x: Handle, ...a: RestAfterHandle<NativeBinding[K]>) => Handle)(this.handle, ...args),
    );
  }
  #pair<K extends PairOp>(name: K, ...args: RestAfterHandle<NativeBinding[K]>): { values: Tensor; indices: Tensor } {
    const [v, i] = (native[name] as (x: Handle, ...a: RestAfterHandle<NativeBinding[K]>) => [Handle, Handle])(
      this.handle,
      ...args,
    );
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  #list<K extends ListOp>(name: K, ...args: RestAfterHandle<NativeBinding[K]>): Tensor[] {
    return (native[name] as (x: Handle, ...a: RestAfterHandle<NativeBinding[K]>) => Handle[])(this.handle, ...args).map(
      (x) => new Tensor(x),
    );
  }
}

// Anything but a tensor or null goes through unchanged, so the addon names it as a wrong argument
// (reading .handle of a number would give undefined, silently taken as a whole-dim slice).
function indexHandles(indices: readonly (Tensor | null)[]): (Handle | null)[] {
  // Statically a non-tensor is null; the cast only names what untyped JS might slip in.
  return indices.map((t) => (t instanceof Tensor ? t.handle : (t as null)));
}

function flatShape(s: number[] | [readonly number[]]): readonly number[] {
  return s.length === 1 && Array.isArray(s[0]) ? (s[0] as readonly number[]) : (s as number[]);
}

// ---- creation (here rather than in a separate file because Tensor.clamp needs full) ----
export interface CreateOptions {
  dtype?: DType;
  device?: Device | string;
  requiresGrad?: boolean;
}
function finish(t: Tensor, o: CreateOptions | undefined): Tensor {
  return o?.requiresGrad ? t.requiresGrad_(true) : t;
}
const dt = (o: CreateOptions | undefined, dflt?: DType): number | undefined =>
  o?.dtype !== undefined ? dtypeCode(o.dtype) : dflt === undefined ? undefined : dtypeCode(dflt);

export function full(shape: readonly number[], value: Scalar, dtype?: DType, o?: CreateOptions): Tensor {
  const d = dtype ?? o?.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  return finish(new Tensor(native.full(shape, value, dtypeCode(d), o?.device)), o);
}
export const zeros = (shape: readonly number[], o?: CreateOptions): Tensor =>
  finish(new Tensor(native.zeros(shape, dt(o, 'float32'), o?.device)), o);
export const ones = (shape: readonly number[], o?: CreateOptions): Tensor =>
  finish(new Tensor(native.ones(shape, dt(o, 'float32'), o?.device)), o);
export const empty = (shape: readonly number[], o?: CreateOptions): Tensor =>
  finish(new Tensor(native.empty(shape, dt(o, 'float32'), o?.device)), o);
export const eye = (n: number, m = n, o?: CreateOptions): Tensor =>
  finish(new Tensor(native.eye(n, m, dt(o, 'float32'), o?.device)), o);
export const zerosLike = (t: Tensor, o?: CreateOptions): Tensor =>
  zeros(t.shape, { dtype: t.dtype, device: t.device, ...o });
export const onesLike = (t: Tensor, o?: CreateOptions): Tensor =>
  ones(t.shape, { dtype: t.dtype, device: t.device, ...o });
export const fullLike = (t: Tensor, v: Scalar, o?: CreateOptions): Tensor =>
  full(t.shape, v, o?.dtype ?? t.dtype, { device: t.device, ...o });
/** arange(end) or arange(start, end, step); integer arguments give int64 like PyTorch. */
export function arange(startOrEnd: number, end?: number, step = 1, o?: CreateOptions): Tensor {
  const [s, e] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  return finish(new Tensor(native.arange(s, e, step, dt(o), o?.device)), o);
}
export const linspace = (start: number, end: number, steps: number, o?: CreateOptions): Tensor =>
  finish(new Tensor(native.linspace(start, end, steps, dt(o, 'float32'), o?.device)), o);

/** The shape of a nested array, with an error naming the first ragged place (the slow path). */
function raggedError(data: NestedArray, path = 'data'): number[] {
  if (!Array.isArray(data)) return [];
  if (data.length === 0) return [0];
  const inner = raggedError(data[0]!, `${path}[0]`);
  for (let i = 1; i < data.length; i++) {
    const s = raggedError(data[i]!, `${path}[${i}]`);
    if (s.length !== inner.length || s.some((v, k) => v !== inner[k])) {
      throw new RangeError(`tensor(): ragged nested array at ${path}[${i}] (shape [${s}] vs [${inner}])`);
    }
  }
  return [data.length, ...inner];
}

function conforms(x: unknown, shape: readonly number[], d: number): boolean {
  if (d === shape.length) return !Array.isArray(x);
  if (!Array.isArray(x) || x.length !== shape[d]) return false;
  if (d === shape.length - 1) {
    for (let i = 0; i < x.length; i++) if (Array.isArray(x[i])) return false;
    return true;
  }
  for (let i = 0; i < x.length; i++) if (!conforms(x[i], shape, d + 1)) return false;
  return true;
}

/** The shape along first elements, checked everywhere; no strings are built unless it is ragged. */
function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  for (let x: unknown = data; Array.isArray(x); x = x[0]) {
    shape.push(x.length);
    if (x.length === 0) break;
  }
  if (!conforms(data, shape, 0)) raggedError(data);
  return shape;
}

/** Leaves in row-major order into `out`, noting whether all are booleans / integers. */
function flatten(data: NestedArray, out: Float64Array): { allBool: boolean; allInt: boolean } {
  let k = 0,
    allBool = true,
    allInt = true;
  const put = (v: unknown): void => {
    if (typeof v === 'number') {
      allBool = false;
      if (allInt && !Number.isInteger(v)) allInt = false;
      out[k++] = v;
    } else if (typeof v === 'boolean') {
      out[k++] = v ? 1 : 0;
    } else {
      throw new TypeError(`tensor(): element ${k} is ${typeof v}, expected number or boolean`);
    }
  };
  const visit = (x: unknown): void => {
    if (!Array.isArray(x)) return put(x);
    if (x.length > 0 && !Array.isArray(x[0])) {
      for (let i = 0; i < x.length; i++) put(x[i]);
    } else {
      for (let i = 0; i < x.length; i++) visit(x[i]);
    }
  };
  visit(data);
  return { allBool, allInt };
}

/**
 * Creates a tensor from a scalar, nested arrays or a TypedArray (copied). Like torch.tensor:
 * booleans give bool, all-integer numbers give int64, other numbers float32, unless dtype says.
 */
export function tensor(data: NestedArray | TypedArray, o: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const src = arr;
    const shape = o.shape ?? [arr.length];
    const own = dtypeOfArray(src);
    let t = new Tensor(native.fromBuffer(src, dtypeCode(own), shape));
    if (o.dtype !== undefined && o.dtype !== own) t = castAndFree(t, o.dtype);
    if (o.device !== undefined && o.device !== 'cpu') t = moveAndFree(t, o.device);
    return finish(t, o);
  }
  const shape = inferShape(data);
  const buf = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const { allBool, allInt } = flatten(data, buf);
  const inferred: DType = buf.length > 0 && allBool ? 'bool' : buf.length > 0 && allInt ? 'int64' : 'float32';
  const target = o.dtype ?? inferred;
  let t = new Tensor(native.fromBuffer(buf, dtypeCode('float64'), shape));
  if (target !== 'float64') t = castAndFree(t, target);
  if (o.device !== undefined && o.device !== 'cpu') t = moveAndFree(t, o.device);
  return finish(t, o);
}
function castAndFree(t: Tensor, d: DType): Tensor {
  const r = t.to(d);
  t.dispose();
  return r;
}
function moveAndFree(t: Tensor, dev: string): Tensor {
  const r = t.to(dev);
  t.dispose();
  return r;
}
