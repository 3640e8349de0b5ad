// Loads tensors from PyTorch `torch.save` files in the zip format (the default
// since PyTorch 1.6) without Python and without executing anything:
//   <archive>/data.pkl     pickle of the saved object; tensors refer to their
//                          storage through persistent ids
//   <archive>/data/<key>   raw little-endian bytes of storage <key>
//   <archive>/byteorder    'little' | 'big' (absent in older files: little)
// The pickle is run by a restricted VM whose only globals are OrderedDict,
// the tensor/parameter rebuild functions and the storage classes.

import { readWholeFile, readWholeFileSync } from './file-io.js';
import {
  PyDict,
  PyGlobal,
  PyHostObject,
  PyList,
  PyTuple,
  describePyValue,
  unpickle,
  type PickleHooks,
  type PyValue,
} from './pickle.js';
import { bytesPerElement, byteSwapInPlace, shapeNumel, type DTypeName, type RawTensor } from './raw.js';
import { ZipArchive } from './zip.js';

const STORAGE_DTYPES: Readonly<Record<string, DTypeName>> = {
  'torch.FloatStorage': 'float32',
  'torch.DoubleStorage': 'float64',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
  // Untyped storages are plain bytes.
  'torch.UntypedStorage': 'uint8',
  'torch.storage.UntypedStorage': 'uint8',
};

// Allowed so that the error names the real problem (no dtype to go by)
// instead of claiming the class is forbidden.
const DTYPELESS_STORAGES = new Set(['torch.storage.TypedStorage', 'torch.TypedStorage']);

function storageDType(qualifiedName: string): DTypeName | undefined {
  return Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, qualifiedName)
    ? STORAGE_DTYPES[qualifiedName]
    : undefined;
}

const ORDERED_DICT = 'collections.OrderedDict';
const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const REBUILD_PARAMETER_WITH_STATE = 'torch._utils._rebuild_parameter_with_state';
const CALLABLES = new Set([ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE]);

const MAX_NESTING = 256;

/** A storage named by a persistent id; its bytes are read on first use. */
class StorageValue extends PyHostObject {
  readonly pyType = 'torch storage';
  private loaded: Uint8Array | undefined;

  constructor(
    readonly key: string,
    readonly dtype: DTypeName,
    readonly numel: number,
    private readonly load: () => Uint8Array,
  ) {
    super();
  }

  bytes(): Uint8Array {
    this.loaded ??= this.load();
    return this.loaded;
  }
}

/**
 * A tensor as _rebuild_tensor_v2 describes it. Materialisation is deferred
 * until flattening, where the tensor's key is known and can be named in errors.
 */
class TensorValue extends PyHostObject {
  readonly pyType = 'torch.Tensor';
  private materialised: RawTensor | undefined;

  constructor(
    readonly storage: StorageValue,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {
    super();
  }

  tensor(): RawTensor {
    this.materialised ??= materialise(this);
    return this.materialised;
  }
}

function nonNegativeInt(v: PyValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${describePyValue(v)}`);
  }
  return v;
}

function intTuple(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple)) throw new Error(`${what} must be a tuple, got ${describePyValue(v)}`);
  return v.items.map((x, i) => nonNegativeInt(x, `${what}[${i}]`));
}

// Matches torch's is_contiguous: strides of size-1 dimensions do not matter.
function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/** Copies a strided view of `src` (in elements) into contiguous row-major bytes. */
function gather(
  src: Uint8Array,
  itemSize: number,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
  numel: number,
): Uint8Array {
  const out = new Uint8Array(numel * itemSize);
  const nd = size.length;
  // Copy whole innermost rows at once when they are dense.
  const denseRows = nd > 0 && stride[nd - 1] === 1;
  const runBytes = (denseRows ? size[nd - 1]! : 1) * itemSize;
  const outer = denseRows ? nd - 1 : nd;
  const index = new Array<number>(outer).fill(0);
  let elem = offset;
  let o = 0;
  for (;;) {
    const s = elem * itemSize;
    if (runBytes >= 64) out.set(src.subarray(s, s + runBytes), o);
    else for (let b = 0; b < runBytes; b++) out[o + b] = src[s + b]!;
    o += runBytes;
    let d = outer - 1;
    for (; d >= 0; d--) {
      index[d]!++;
      elem += stride[d]!;
      if (index[d]! < size[d]!) break;
      elem -= stride[d]! * size[d]!;
      index[d] = 0;
    }
    if (d < 0) return out;
  }
}

function rebuildTensor(args: PyTuple): TensorValue {
  if (args.items.length < 6 || args.items.length > 7) {
    throw new Error(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${args.items.length}`);
  }
  const [storage, offset, size, stride] = args.items;
  if (!(storage instanceof StorageValue)) {
    throw new Error(`_rebuild_tensor_v2: first argument must be a storage, got ${describePyValue(storage!)}`);
  }
  const t = new TensorValue(
    storage,
    nonNegativeInt(offset!, 'storage offset'),
    intTuple(size!, 'tensor size'),
    intTuple(stride!, 'tensor stride'),
  );
  if (t.stride.length !== t.size.length) {
    throw new Error(`tensor size (${t.size.join(', ')}) and stride (${t.stride.join(', ')}) differ in length`);
  }
  return t;
}

function materialise(t: TensorValue): RawTensor {
  const { storage, offset, size, stride } = t;
  const numel = shapeNumel(size, 'tensor');
  if (numel === 0) return { dtype: storage.dtype, shape: size, data: new Uint8Array(0) };
  const bytes = storage.bytes();
  const itemSize = bytesPerElement(storage.dtype);
  let last = offset;
  for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
  if (!Number.isSafeInteger(last) || last >= storage.numel) {
    throw new Error(
      `view (offset ${offset}, size (${size.join(', ')}), stride (${stride.join(', ')})) ` +
        `reaches element ${last} of storage '${storage.key}' which has ${storage.numel}`,
    );
  }
  const data = isContiguous(size, stride)
    ? bytes.subarray(offset * itemSize, (offset + numel) * itemSize)
    : gather(bytes, itemSize, offset, size, stride, numel);
  return { dtype: storage.dtype, shape: size, data };
}

class TorchHooks implements PickleHooks {
  private readonly storages = new Map<string, StorageValue>();

  constructor(
    private readonly zip: ZipArchive,
    private readonly prefix: string,
    private readonly bigEndian: boolean,
  ) {}

  resolveGlobal(module: string, name: string): PyValue {
    const qualified = `${module}.${name}`;
    if (CALLABLES.has(qualified) || storageDType(qualified) !== undefined || DTYPELESS_STORAGES.has(qualified)) {
      return new PyGlobal(module, name);
    }
    const hint = module.startsWith('__torch__')
      ? ' (this looks like a TorchScript archive from torch.jit.save; save its state_dict() instead)'
      : '';
    throw new Error(
      `global '${qualified}' is not allowed: only tensors, storages and OrderedDict can be loaded, ` +
        `and nothing is ever executed${hint}`,
    );
  }

  call(callable: PyValue, args: PyTuple): PyValue {
    if (!(callable instanceof PyGlobal) || !CALLABLES.has(callable.qualifiedName)) {
      throw new Error(`cannot call ${describePyValue(callable)}`);
    }
    switch (callable.qualifiedName) {
      case ORDERED_DICT:
        return orderedDict(args);
      case REBUILD_TENSOR_V2:
        return rebuildTensor(args);
      default: {
        // _rebuild_parameter(data, requires_grad, hooks[, state]): a
        // Parameter is its data as far as a state dict is concerned.
        const data = args.items[0];
        if (!(data instanceof TensorValue)) {
          throw new Error(
            `${callable.qualifiedName}: first argument must be a tensor, got ${describePyValue(data ?? null)}`,
          );
        }
        return data;
      }
    }
  }

  build(obj: PyValue, state: PyValue): PyValue {
    // An OrderedDict's instance __dict__, e.g. state_dict()._metadata.
    if (obj instanceof PyDict && state instanceof PyDict) {
      for (const [k, v] of state.items) if (typeof k === 'string') obj.attrs.set(k, v);
      return obj;
    }
    throw new Error(`BUILD is not supported for ${describePyValue(obj)} with state ${describePyValue(state)}`);
  }

  persistentLoad(pid: PyValue): PyValue {
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      throw new Error(
        `unsupported persistent id ${describePyValue(pid)}: expected ('storage', type, key, location, numel)`,
      );
    }
    const [, type, key, , numelV] = pid.items;
    if (!(type instanceof PyGlobal)) throw new Error(`storage type must be a class, got ${describePyValue(type!)}`);
    if (typeof key !== 'string') throw new Error(`storage key must be a string, got ${describePyValue(key!)}`);
    const dtype = storageDType(type.qualifiedName);
    if (dtype === undefined) {
      throw new Error(`storage '${key}' has type ${type.qualifiedName}, which carries no supported dtype`);
    }
    const numel = nonNegativeInt(numelV!, `storage '${key}' size`);
    const cached = this.storages.get(key);
    if (cached) {
      if (cached.dtype !== dtype || cached.numel !== numel) {
        throw new Error(
          `storage '${key}' is referenced both as ${cached.numel} ${cached.dtype} and as ${numel} ${dtype} elements`,
        );
      }
      return cached;
    }
    const storage = new StorageValue(key, dtype, numel, () => this.readStorage(key, dtype, numel));
    this.storages.set(key, storage);
    return storage;
  }

  private readStorage(key: string, dtype: DTypeName, numel: number): Uint8Array {
    const entry = `${this.prefix}data/${key}`;
    if (!/^[A-Za-z0-9_.-]+$/.test(key) || !this.zip.has(entry)) {
      throw new Error(`storage '${key}' is missing from the archive (no entry '${entry}')`);
    }
    const itemSize = bytesPerElement(dtype);
    const nbytes = numel * itemSize;
    let bytes = this.zip.read(entry);
    if (bytes.byteLength < nbytes) {
      throw new Error(`storage '${key}' holds ${bytes.byteLength} bytes but is declared as ${numel} ${dtype} elements`);
    }
    bytes = bytes.subarray(0, nbytes);
    if (this.bigEndian) {
      bytes = bytes.slice(); // never modify the caller's buffer
      byteSwapInPlace(bytes, itemSize);
    }
    return bytes;
  }
}

function orderedDict(args: PyTuple): PyDict {
  const d = new PyDict();
  if (args.items.length === 0) return d;
  const pairs = args.items[0];
  if (args.items.length === 1 && (pairs instanceof PyList || pairs instanceof PyTuple)) {
    for (const p of pairs.items) {
      if (!(p instanceof PyTuple) || p.items.length !== 2)
        throw new Error('OrderedDict(...) expects (key, value) pairs');
      d.items.set(p.items[0]!, p.items[1]!);
    }
    return d;
  }
  throw new Error(`unsupported OrderedDict arguments ${describePyValue(args)}`);
}

function findArchivePrefix(zip: ZipArchive, fail: (m: string) => Error): string {
  const candidates = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (candidates.length === 0) throw fail('no <archive>/data.pkl entry: not a torch.save zip file');
  if (candidates.length > 1) throw fail(`several data.pkl entries (${candidates.join(', ')})`);
  return candidates[0]!.slice(0, -'data.pkl'.length);
}

function readByteOrder(zip: ZipArchive, prefix: string, fail: (m: string) => Error): boolean {
  const entry = `${prefix}byteorder`;
  if (!zip.has(entry)) return false;
  const order = new TextDecoder().decode(zip.read(entry)).trim();
  if (order !== 'little' && order !== 'big') throw fail(`unknown byteorder '${order}'`);
  return order === 'big';
}

/**
 * How many bytes of tensors a file may yield per byte of itself (plus a little): tensors that share
 * a storage (tied weights) are each materialised, so a state dict may exceed its file somewhat, but
 * a pickle whose memo hands out one storage ten times must not turn 100 MB into a gigabyte.
 */
const MAX_TENSOR_BYTES_PER_FILE_BYTE = 2;

/**
 * Containers and values the walk may visit per byte of pickle. A tree visits each value once, and every value
 * costs the pickle at least one opcode byte; only containers reached again through the memo (aliases) are
 * visited more often, which a hostile file can nest into exponentially many visits from a few hundred bytes.
 */
const MAX_VISITS_PER_PICKLE_BYTE = 4;

function flatten(
  root: PyValue,
  fail: (m: string) => Error,
  fileBytes: number,
  pickleBytes: number,
): Map<string, RawTensor> {
  if (!(root instanceof PyDict)) {
    throw fail(`the saved object is ${describePyValue(root)}, expected a dict such as a state_dict`);
  }
  const out = new Map<string, RawTensor>();
  const active = new Set<PyValue>();
  const budget = MAX_TENSOR_BYTES_PER_FILE_BYTE * fileBytes + (1 << 20);
  let total = 0;
  const maxVisits = MAX_VISITS_PER_PICKLE_BYTE * pickleBytes + 1024;
  let visits = 0;
  const walk = (value: PyValue, name: string, depth: number): void => {
    if (++visits > maxVisits) {
      throw fail(
        `its object graph visits more than ${maxVisits} values from a ${pickleBytes}-byte pickle: containers shared ` +
          `into exponentially many paths (at '${name}')`,
      );
    }
    if (value instanceof TensorValue) {
      if (out.has(name)) throw fail(`two tensors flatten to the same key '${name}'`);
      total += shapeNumel(value.size, 'tensor') * bytesPerElement(value.storage.dtype);
      if (total > budget) {
        throw fail(
          `its tensors add up to more than ${budget} bytes, over ${MAX_TENSOR_BYTES_PER_FILE_BYTE}x the file's ` +
            `${fileBytes}: ` +
            `storages shared by too many tensors, or compressed far past their size (at '${name}')`,
        );
      }
      try {
        out.set(name, value.tensor());
      } catch (err) {
        throw fail(`tensor '${name}': ${(err as Error).message}`);
      }
      return;
    }
    let children: [string, PyValue][];
    if (value instanceof PyDict) {
      children = [];
      for (const [k, v] of value.items) {
        // Keys that are not scalars cannot become part of a dotted name.
        if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint') children.push([String(k), v]);
      }
    } else if (value instanceof PyList || value instanceof PyTuple) {
      children = value.items.map((v, i) => [String(i), v]);
    } else {
      return; // plain Python scalars, strings, bytes, None
    }
    if (depth > MAX_NESTING) throw fail(`containers nested deeper than ${MAX_NESTING} levels at '${name}'`);
    if (active.has(value)) return; // self-referencing container
    active.add(value);
    for (const [k, v] of children) walk(v, name === '' ? k : `${name}.${k}`, depth + 1);
    active.delete(value);
  };
  walk(root, '', 0);
  return out;
}

/**
 * Loads the tensors of a `torch.save` zip file (PyTorch >= 1.6 default format).
 *
 * The saved object must be a dict. Nested dicts (and lists/tuples) are
 * flattened to dotted keys, so a plain `model.state_dict()` yields its usual
 * keys ('0.weight', 'bn.num_batches_tracked', ...), while a checkpoint such as
 * `{'epoch': 3, 'state_dict': sd, 'optimizer': opt.state_dict()}` yields
 * 'state_dict.0.weight', ..., 'optimizer.state.0.exp_avg'. Values that are not
 * tensors (epoch numbers, strings, floats, None) are skipped. Tensors are
 * returned contiguous: strided views are copied, while tensors that already
 * were contiguous are views into `buf` (or into the inflated entry) and alias
 * each other when they share a storage, so copy before mutating.
 *
 * Only OrderedDict, the tensor/parameter rebuild functions and the storage
 * classes may appear as pickle globals; anything else is rejected before
 * anything happens. `source` (e.g. the file path) prefixes error messages.
 */
export function loadTorchStateDict(buf: Uint8Array, source = '<buffer>'): Map<string, RawTensor> {
  const fail = (m: string): Error => new Error(`torch ${source}: ${m}`);
  if (buf.byteLength >= 2 && buf[0] === 0x80 && buf[1]! <= 5) {
    throw fail(
      'legacy (pre-1.6 / _use_new_zipfile_serialization=False) torch.save format is not supported; re-save with a ' +
        'current PyTorch',
    );
  }
  if (buf.byteLength < 4 || buf[0] !== 0x50 || buf[1] !== 0x4b)
    throw fail('not a zip archive (torch.save >= 1.6 writes zip files)');
  const zip = new ZipArchive(buf, source);
  const prefix = findArchivePrefix(zip, fail);
  const hooks = new TorchHooks(zip, prefix, readByteOrder(zip, prefix, fail));
  const pickle = zip.read(`${prefix}data.pkl`);
  const root = unpickle(pickle, hooks, `${source}:${prefix}data.pkl`);
  return flatten(root, fail, buf.byteLength, pickle.byteLength);
}

export async function loadTorchFile(path: string): Promise<Map<string, RawTensor>> {
  return loadTorchStateDict(await readWholeFile(path), path);
}

export function loadTorchFileSync(path: string): Map<string, RawTensor> {
  return loadTorchStateDict(readWholeFileSync(path), path);
}
