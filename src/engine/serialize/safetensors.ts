// The safetensors format (https://github.com/huggingface/safetensors):
//   u64 little-endian N | N bytes of UTF-8 JSON header | byte buffer
// Header: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}
// with offsets relative to the byte buffer. The buffer must be covered exactly
// (no holes, no overlaps), which rules out polyglot files and aliasing tricks.
// Validation mirrors the reference Rust implementation.

import { readWholeFile, readWholeFileSync, writeFileAtomic, writeFileAtomicSync } from './file-io.js';
import type { InputSource } from './input-gate.js';
import { assertRawTensor, rawByteLength, type DTypeName, type RawTensor } from './raw.js';
import { isJsonObject, parseStrictJson, type JsonObject, type JsonValue } from './strict-json.js';

/** Same cap as the reference implementation: a header this big is an attack, not a model. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/**
 * Most tensors a file may list. A checkpoint of the largest model here with its optimizer state has
 * a few thousand; a 100 MB header of empty tensors lists 1.5 million, and building each as an engine
 * tensor cost ~2 KB of memory apiece (1.1 GB for a 32 MB file) before anything could refuse it.
 */
export const MAX_SAFETENSORS_TENSORS = 65_536;

const METADATA_KEY = '__metadata__';

/**
 * JSON tokens (',', ':', '{', '[' outside strings) a header may hold per tensor it may list: a
 * tensor's entry with a 4-D shape has 14 (7 ',', 4 ':', one object, two arrays); 24 leaves room
 * for any shape.
 */
const TOKENS_PER_TENSOR = 24;

/**
 * Counts the header's top-level members and its structural tokens on the bytes, without decoding
 * or building anything, and refuses a header past either bound. Parsing builds a Map per entry
 * (~1 KB each): a 100 MB header of 500k empty tensors cost ~640 MB before the tensor count could
 * be checked. Every JSON value but the first follows a ',', '[' or ':', so bounding the tokens
 * bounds what the parser builds.
 */
function checkHeaderShape(header: Uint8Array, f: Failure): void {
  const maxMembers = MAX_SAFETENSORS_TENSORS + 1; // the tensors and __metadata__
  const maxTokens = maxMembers * TOKENS_PER_TENSOR;
  let members = 0;
  let tokens = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // an escape: the next byte is never the closing quote
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      tokens++;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c || c === 0x3a) {
      tokens++;
      if (c === 0x3a && depth === 1 && ++members > maxMembers)
        throw f.error(
          `the header lists more than ${MAX_SAFETENSORS_TENSORS} tensors (refused before parsing ` +
            `its ${header.length} bytes)`,
        );
    }
    if (tokens > maxTokens)
      throw f.error(
        `the header holds more than ${maxTokens} JSON values (${TOKENS_PER_TENSOR} for each of at most ` +
          `${MAX_SAFETENSORS_TENSORS} tensors)`,
      );
  }
}

const DTYPE_BY_CODE: Readonly<Record<string, DTypeName>> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

const CODE_BY_DTYPE: Readonly<Record<DTypeName, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

export interface SafetensorsContents {
  /** In header order. Each `data` is a view into the input buffer (no copy). */
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export type TensorCollection = Map<string, RawTensor> | Readonly<Record<string, RawTensor>>;

interface Entry {
  key: string;
  dtype: DTypeName;
  shape: number[];
  begin: number;
  end: number;
}

class Failure {
  constructor(private readonly source: string) {}

  error(message: string, key?: string): Error {
    const where = key === undefined ? '' : ` tensor ${JSON.stringify(key)}:`;
    return new Error(`safetensors ${this.source}:${where} ${message}`);
  }
}

function setOwn(target: Record<string, string>, key: string, value: string): void {
  // defineProperty keeps a key like "__proto__" an ordinary own property.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function readMetadata(value: JsonValue, f: Failure): Record<string, string> {
  if (!isJsonObject(value)) throw f.error(`"${METADATA_KEY}" must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of value) {
    if (typeof v !== 'string') throw f.error(`"${METADATA_KEY}" value for ${JSON.stringify(k)} is not a string`);
    setOwn(out, k, v);
  }
  return out;
}

function readEntry(key: string, value: JsonValue, dataLength: number, f: Failure): Entry {
  if (!isJsonObject(value)) throw f.error('entry is not a JSON object', key);
  const code = value.get('dtype');
  if (typeof code !== 'string') throw f.error('missing or non-string "dtype"', key);
  const dtype = DTYPE_BY_CODE[code];
  if (dtype === undefined || !Object.prototype.hasOwnProperty.call(DTYPE_BY_CODE, code)) {
    throw f.error(`unknown or unsupported dtype ${JSON.stringify(code)}`, key);
  }
  const shape = value.get('shape');
  if (!Array.isArray(shape)) throw f.error('missing or non-array "shape"', key);
  let expected: number;
  try {
    expected = rawByteLength(dtype, shape as number[], 'shape');
  } catch (err) {
    throw f.error((err as Error).message, key);
  }
  const offsets = value.get('data_offsets');
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw f.error('"data_offsets" must be an array [begin, end]', key);
  }
  const [begin, end] = offsets;
  if (!isOffset(begin) || !isOffset(end)) {
    throw f.error(
      `"data_offsets" [${offsets.map((o) => JSON.stringify(o)).join(', ')}] must be non-negative integers`,
      key,
    );
  }
  if (end < begin) throw f.error(`"data_offsets" [${begin}, ${end}] end before begin`, key);
  if (end > dataLength) {
    throw f.error(`"data_offsets" [${begin}, ${end}] out of range: the byte buffer has ${dataLength} bytes`, key);
  }
  if (end - begin !== expected) {
    throw f.error(`byte length ${end - begin} does not match ${code}[${shape.join(', ')}] (${expected} bytes)`, key);
  }
  return { key, dtype, shape: shape as number[], begin, end };
}

function isOffset(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkCoverage(entries: Entry[], dataLength: number, f: Failure): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered) {
      throw f.error(`bytes [${e.begin}, ${e.end}) overlap tensor ${JSON.stringify(previous?.key)}`, e.key);
    }
    if (e.begin > covered) {
      throw f.error(`hole in the byte buffer: bytes [${covered}, ${e.begin}) before it belong to no tensor`, e.key);
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    throw f.error(`${dataLength - covered} trailing bytes of the byte buffer belong to no tensor`);
  }
}

/**
 * Parses a safetensors buffer. Tensor data are views into `buf` (zero copy).
 * `source` (e.g. the file path) prefixes every error message.
 */
export function readSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsContents {
  const f = new Failure(source);
  if (buf.byteLength < 8) throw f.error(`truncated: ${buf.byteLength} bytes, need at least 8 for the header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw f.error(`header length ${headerLength64} exceeds the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`);
  }
  const headerLength = Number(headerLength64);
  if (8 + headerLength > buf.byteLength) {
    throw f.error(`truncated: header length ${headerLength} runs past the end of the ${buf.byteLength}-byte input`);
  }
  if (headerLength === 0 || buf[8] !== 0x7b) throw f.error("header does not start with '{'");
  checkHeaderShape(buf.subarray(8, 8 + headerLength), f);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(8, 8 + headerLength));
  } catch {
    throw f.error('header is not valid UTF-8');
  }
  let header: JsonValue;
  try {
    header = parseStrictJson(text);
  } catch (err) {
    throw f.error(`malformed header: ${(err as Error).message}`);
  }
  if (!isJsonObject(header)) throw f.error('header is not a JSON object');

  const dataStart = 8 + headerLength;
  const dataLength = buf.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of header as JsonObject) {
    if (key === METADATA_KEY) metadata = readMetadata(value, f);
    else if (entries.push(readEntry(key, value, dataLength, f)) > MAX_SAFETENSORS_TENSORS)
      throw f.error(`the header lists more than ${MAX_SAFETENSORS_TENSORS} tensors`);
  }
  checkCoverage(entries, dataLength, f);

  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    const data = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + e.begin, e.end - e.begin);
    tensors.set(e.key, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function entriesOf(tensors: TensorCollection): [string, RawTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Built by hand rather than JSON.stringify(object) because JS objects move
// integer-like keys ("0", "12") to the front, which would break sorted order.
function jsonObject(pairs: readonly [string, string][]): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** Header bytes followed by each tensor's data, in file order. */
function encodeChunks(tensors: TensorCollection, metadata?: Readonly<Record<string, string>>): Uint8Array[] {
  const f = new Failure('<writer>');
  const items = entriesOf(tensors).sort((a, b) => byCodeUnits(a[0], b[0]));
  const pairs: [string, string][] = [];
  if (metadata !== undefined) {
    const meta = Object.entries(metadata).sort((a, b) => byCodeUnits(a[0], b[0]));
    for (const [k, v] of meta) {
      if (typeof v !== 'string') throw f.error(`metadata value for ${JSON.stringify(k)} is not a string`);
    }
    if (meta.length > 0) pairs.push([METADATA_KEY, jsonObject(meta.map(([k, v]) => [k, JSON.stringify(v)]))]);
  }
  let offset = 0;
  const data: Uint8Array[] = [];
  for (const [key, t] of items) {
    if (key === METADATA_KEY) throw f.error(`"${METADATA_KEY}" is reserved and cannot name a tensor`, key);
    try {
      assertRawTensor(t, 'tensor');
    } catch (err) {
      throw f.error((err as Error).message, key);
    }
    const end = offset + t.data.byteLength;
    const info = { dtype: CODE_BY_DTYPE[t.dtype], shape: t.shape, data_offsets: [offset, end] };
    pairs.push([key, JSON.stringify(info)]);
    if (t.data.byteLength > 0) data.push(t.data);
    offset = end;
  }
  const json = new TextEncoder().encode(jsonObject(pairs));
  const padded = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  if (padded > MAX_SAFETENSORS_HEADER_BYTES) throw f.error(`header would be ${padded} bytes, over the reader limit`);
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.byteLength);
  return [head, ...data];
}

/**
 * Serialises tensors (keys sorted, header space-padded to 8-byte alignment).
 * Empty `metadata` is omitted from the header.
 */
export function writeSafetensors(tensors: TensorCollection, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const chunks = encodeChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

export async function loadSafetensorsFile(path: string, src?: InputSource): Promise<SafetensorsContents> {
  return readSafetensors(await readWholeFile(path, src), path);
}

export function loadSafetensorsFileSync(path: string, src?: InputSource): SafetensorsContents {
  return readSafetensors(readWholeFileSync(path, src), path);
}

/** Writes atomically: temp file in the same directory, fsync, rename. */
export async function saveSafetensorsFile(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, encodeChunks(tensors, metadata));
}

export function saveSafetensorsFileSync(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeFileAtomicSync(path, encodeChunks(tensors, metadata));
}
