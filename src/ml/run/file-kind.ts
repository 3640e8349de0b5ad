// What a file is, by its first bytes (and a zip's directory), not by its name: a weights file named
// .pth can be a web page saved by a failed download, an image, an ONNX export or a zip of something
// else. Errors can then say what the file is instead of how it failed to parse.
import { closeSync, readSync } from 'node:fs';
import { openInputFileSync, type InputSource } from '../../engine/serialize/input-gate.js';

export type FileKind =
  | 'safetensors'
  | 'torch-zip'
  | 'zip'
  | 'zip-truncated'
  | 'torch-legacy'
  | 'onnx'
  | 'png'
  | 'jpeg'
  | 'gif'
  | 'webp'
  | 'npy'
  | 'hdf5'
  | 'html'
  | 'git-lfs-pointer'
  | 'empty'
  | 'text'
  | 'unknown';

/** Each kind in words, as an error names the file ("is a PNG image"). */
export const FILE_KIND_TEXT: Readonly<Record<FileKind, string>> = {
  safetensors: 'a safetensors file',
  'torch-zip': 'a torch.save file',
  zip: 'a zip archive that is not a torch.save file (no data.pkl in it)',
  'zip-truncated': 'a zip archive cut short (its directory at the end is missing: an incomplete download?)',
  'torch-legacy': 'a torch.save file in the legacy format of PyTorch before 1.6 (a bare pickle)',
  onnx: 'an ONNX model',
  png: 'a PNG image',
  jpeg: 'a JPEG image',
  gif: 'a GIF image',
  webp: 'a WebP image',
  npy: 'a NumPy .npy array',
  hdf5: 'an HDF5 file (e.g. Keras weights)',
  html: 'an HTML page (a download that saved a web page instead of the file?)',
  'git-lfs-pointer': 'a Git LFS pointer, not the file it points to (git lfs pull fetches it)',
  empty: 'empty',
  text: 'a text file',
  unknown: 'of no kind this toolkit recognises',
};

const HEAD = 4096;
/** Enough for the end record and the directory of a state dict of thousands of tensors. */
const TAIL = 1 << 20;

function read(fd: number, size: number, at: number, n: number): Buffer {
  const len = Math.max(0, Math.min(n, size - at));
  const b = Buffer.alloc(len);
  if (len > 0) readSync(fd, b, 0, len, at);
  return b;
}

const startsWith = (b: Buffer, bytes: readonly number[], at = 0): boolean => bytes.every((x, i) => b[at + i] === x);

/** A safetensors header: an 8-byte little-endian length that fits the file, then a JSON object. */
function isSafetensors(head: Buffer, size: number): boolean {
  if (head.length < 10) return false;
  const n = head.readBigUInt64LE(0);
  return n >= 2n && n <= BigInt(size - 8) && head[8] === 0x7b;
}

/**
 * An ONNX ModelProto: field 1 (ir_version, a small varint) first, then another of its fields
 * (producer_name, producer_version, domain, graph, opset_import...).
 */
function isOnnx(head: Buffer): boolean {
  return (
    head.length > 3 &&
    head[0] === 0x08 &&
    head[1]! >= 1 &&
    head[1]! <= 16 &&
    [0x12, 0x1a, 0x22, 0x2a, 0x3a, 0x42].includes(head[2]!)
  );
}

/** The kind of a file, by content (opened through the input gate, as `src` says where it came from). */
export function sniffFile(file: string, src: InputSource = { format: 'weights' }): FileKind {
  const { fd, size } = openInputFileSync(file, src);
  try {
    if (size === 0) return 'empty';
    const head = read(fd, size, 0, HEAD);
    if (isSafetensors(head, size)) return 'safetensors';
    if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
      // torch.save's zip holds <name>/data.pkl, named in the central directory at the end, which
      // the end-of-directory record (PK 5 6) closes: without it the file was cut short.
      const tail = read(fd, size, Math.max(0, size - TAIL), TAIL).toString('latin1');
      if (!tail.includes('PK\x05\x06')) return 'zip-truncated';
      // The first record's name (torch.save writes data.pkl first), or the directory's names.
      const first = head.length >= 30 ? head.toString('latin1', 30, 30 + head.readUInt16LE(26)) : '';
      return first.endsWith('data.pkl') || tail.includes('data.pkl') ? 'torch-zip' : 'zip';
    }
    if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return 'torch-legacy';
    if (startsWith(head, [0x89, 0x50, 0x4e, 0x47])) return 'png';
    if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
    if (head.toString('latin1', 0, 4) === 'GIF8') return 'gif';
    if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
    if (startsWith(head, [0x93]) && head.toString('latin1', 1, 6) === 'NUMPY') return 'npy';
    if (startsWith(head, [0x89, 0x48, 0x44, 0x46])) return 'hdf5';
    if (isOnnx(head)) return 'onnx';
    const text = head.toString('utf8').trimStart().toLowerCase();
    if (text.startsWith('version https://git-lfs')) return 'git-lfs-pointer';
    if (text.startsWith('<!doctype html') || text.startsWith('<html')) return 'html';
    // Printable text (tabs and line ends allowed) all through the first bytes.
    if (head.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c !== 127))) return 'text';
    return 'unknown';
  } finally {
    closeSync(fd);
  }
}
