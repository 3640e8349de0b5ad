// Tensors ↔ files: safetensors (read/write) and PyTorch torch.save state dicts (read).
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode, type DType } from './dtype.js';
import type { RawTensor } from './serialize/raw.js';
import { readInputFileSync, type InputSource } from './serialize/input-gate.js';
import { CHECKSUM_KEY, tensorChecksums, verifyChecksums, type Integrity } from './serialize/integrity.js';
import { readSafetensors, saveSafetensorsFileSync } from './serialize/safetensors.js';
import { loadTorchStateDict } from './serialize/torch-zip.js';

/**
 * The bytes of a tensor as a file holds them: a contiguous CPU copy (native toBuffer copies with
 * .to(cpu).contiguous()), so a file written from a GPU or channels-last tensor carries no device nor
 * strides, and loads anywhere.
 */
export function toRaw(t: Tensor): RawTensor {
  return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(native.toBuffer(t.handle)) };
}
export function fromRaw(r: RawTensor, device?: LoadDevice): Tensor {
  return new Tensor(native.fromBuffer(r.data, dtypeCode(r.dtype as DType), r.shape, device));
}

/** Where loaded tensors go (PyTorch's map_location): the CPU by default. */
export type LoadDevice = 'cpu' | 'cuda' | `cuda:${number}`;

/** `device` checked before any tensor is built: a device string this build can place tensors on. */
export function checkLoadDevice(device: string, what: string): LoadDevice {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(device);
  if (!m || (m[1] === 'cpu' && m[2] !== undefined))
    throw new RangeError(`${what}: device must be cpu, cuda or cuda:N, got '${device}'`);
  if (m[1] === 'cpu') return 'cpu';
  const b = native.buildInfo();
  const count = b.cudaAvailable ? b.cudaDeviceCount : 0;
  if (count === 0)
    throw new RangeError(
      `${what}: device ${device}: ${b.cudaBuilt ? 'no GPU is visible' : 'this libtorch has no CUDA'}; load to cpu`,
    );
  if (m[2] !== undefined && Number(m[2]) >= count)
    throw new RangeError(`${what}: device ${device}: only ${count} GPU${count === 1 ? '' : 's'} visible`);
  return device as LoadDevice;
}

/**
 * Writes tensors to a .safetensors file atomically (temp file, fsync, rename), with the SHA-256 of
 * each tensor in its metadata (integrity.ts), which loadTensors verifies.
 */
export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata?: Record<string, string>): void {
  const raw = new Map<string, RawTensor>();
  for (const [k, t] of tensors) raw.set(k, toRaw(t));
  saveSafetensorsFileSync(path, raw, { ...metadata, [CHECKSUM_KEY]: tensorChecksums(raw) });
}

/** What loadTensors returns: the tensors, the file's metadata, and whether checksums verified them. */
export interface LoadedTensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  integrity: Integrity;
}

/**
 * Reads a .safetensors file or a torch.save zip (state dict, or a checkpoint dict whose tensors come
 * back with dotted prefixes), recognised by content, not by name. The file passes the input gate
 * first (`src` says what it is read as and where its path came from; default: weights).
 */
export function loadTensors(
  path: string,
  src: InputSource = { format: 'weights' },
  o: { device?: string } = {},
): LoadedTensors {
  // A bad device is refused before the file is read.
  if (o.device !== undefined) checkLoadDevice(o.device, `loadTensors(${path})`);
  const b = readInputFileSync(path, src);
  return tensorsFromBuffer(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path, o);
}

/**
 * loadTensors of bytes already in memory; `path` names the source in errors. A safetensors file
 * with checksums is verified before any tensor is built: a damaged one is refused, naming the tensor.
 */
export function tensorsFromBuffer(buf: Uint8Array, path = '<buffer>', o: { device?: string } = {}): LoadedTensors {
  const device = o.device === undefined ? undefined : checkLoadDevice(o.device, `loadTensors(${path})`);
  const isZip = buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
  const raws = isZip
    ? { tensors: loadTorchStateDict(buf, path), metadata: {} as Record<string, string> }
    : readSafetensors(buf, path);
  const integrity = verifyChecksums(raws.tensors, raws.metadata, path);
  const tensors = new Map<string, Tensor>();
  for (const [k, r] of raws.tensors) tensors.set(k, fromRaw(r, device));
  return { tensors, metadata: raws.metadata, integrity };
}
