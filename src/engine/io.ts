// Tensors ↔ files: safetensors (read/write) and PyTorch torch.save state dicts (read).
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode, type DType } from './dtype.js';
import type { RawTensor } from './serialize/raw.js';
import { readInputFileSync, type InputSource } from './serialize/input-gate.js';
import { CHECKSUM_KEY, tensorChecksums, verifyChecksums, type Integrity } from './serialize/integrity.js';
import { readSafetensors, saveSafetensorsFileSync } from './serialize/safetensors.js';
import { loadTorchStateDict } from './serialize/torch-zip.js';

export function toRaw(t: Tensor): RawTensor {
  return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(native.toBuffer(t.handle)) };
}
export function fromRaw(r: RawTensor): Tensor {
  return new Tensor(native.fromBuffer(r.data, dtypeCode(r.dtype as DType), r.shape));
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
export function loadTensors(path: string, src: InputSource = { format: 'weights' }): LoadedTensors {
  const b = readInputFileSync(path, src);
  return tensorsFromBuffer(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path);
}

/**
 * loadTensors of bytes already in memory; `path` names the source in errors. A safetensors file
 * with checksums is verified before any tensor is built: a damaged one is refused, naming the tensor.
 */
export function tensorsFromBuffer(buf: Uint8Array, path = '<buffer>'): LoadedTensors {
  const isZip = buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
  const raws = isZip
    ? { tensors: loadTorchStateDict(buf, path), metadata: {} as Record<string, string> }
    : readSafetensors(buf, path);
  const integrity = verifyChecksums(raws.tensors, raws.metadata, path);
  const tensors = new Map<string, Tensor>();
  for (const [k, r] of raws.tensors) tensors.set(k, fromRaw(r));
  return { tensors, metadata: raws.metadata, integrity };
}
