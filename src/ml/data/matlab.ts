// A reader for MATLAB Level 5 MAT-files (what `save -v6` / `-v7` write, and what scipy.io.savemat
// writes): enough of the format for dataset annotations such as Cars-196's cars_annos.mat —
// numeric, logical, char, cell, struct and object arrays, sparse matrices, zlib-compressed
// variables (miCOMPRESSED), the small data element format, and both byte orders.
// v7.3 files are HDF5 and are rejected with a message saying so.
import { readFileSync } from 'node:fs';
import { constants as zlibConstants, inflateSync } from 'node:zlib';

/**
 * Most a compressed variable may inflate per compressed byte. Annotation data (numbers, strings) compress
 * a few times, at most tens of times for repetitive text; deflate reaches ~1032× only on runs of one byte,
 * what a decompression bomb is made of.
 */
export const MAX_MAT_INFLATE_RATIO = 100;

/**
 * Inflates a miCOMPRESSED element, never past what the tag inside it announces: a sync flush of the first
 * bytes reads that tag (type, byte count), then the whole stream is inflated with that cap.
 */
function inflateBounded(compressed: Uint8Array, le: boolean, where: string): Buffer {
  // A dynamic Huffman block's tables come before its first output byte: widen the prefix until the tag is out.
  let prefix = Buffer.alloc(0);
  for (const n of [256, 4096, 65536]) {
    prefix = inflateSync(compressed.subarray(0, Math.min(compressed.length, n)), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      maxOutputLength: n * 1100,
    });
    if (prefix.length >= 8 || n >= compressed.length) break;
  }
  if (prefix.length < 8) throw new Error(`${where}: the compressed element is too short for a tag`);
  const u32 = (o: number): number => (le ? prefix.readUInt32LE(o) : prefix.readUInt32BE(o));
  // A small data element packs its byte count (at most 4) into the tag's first word.
  const announced = u32(0) >>> 16 !== 0 ? 8 : 8 + u32(4);
  const cap = MAX_MAT_INFLATE_RATIO * compressed.length + 4096;
  if (announced > cap) {
    throw new Error(
      `${where}: its tag announces ${announced} bytes from ${compressed.length} compressed bytes, more than ` +
        `${MAX_MAT_INFLATE_RATIO}× (a corrupt file or a decompression bomb)`,
    );
  }
  try {
    // Padding to 8 bytes may follow the announced data.
    return inflateSync(compressed, { maxOutputLength: announced + 8 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(`${where}: decompresses to more than the ${announced} bytes its tag announces`, { cause: e });
    throw e;
  }
}

export type MatNumericClass =
  'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

export interface MatNumeric {
  kind: 'numeric';
  class: MatNumericClass;
  /** MATLAB dimensions (at least two). Data are column-major. */
  dims: number[];
  /** Values as doubles (64-bit integers beyond 2^53 lose precision). */
  real: Float64Array;
  imag?: Float64Array;
  logical: boolean;
}

export interface MatChar {
  kind: 'char';
  dims: number[];
  /** All characters in column-major order; for a 1×N row vector this is the string itself. */
  text: string;
}

export interface MatCell {
  kind: 'cell';
  dims: number[];
  /** Column-major. */
  cells: MatValue[];
}

export interface MatStruct {
  kind: 'struct';
  dims: number[];
  fieldNames: string[];
  /** Column-major; one record per element. */
  elements: Array<Record<string, MatValue>>;
  /** Set for MATLAB objects (mxOBJECT_CLASS). */
  className?: string;
}

export interface MatSparse {
  kind: 'sparse';
  dims: number[];
  /** Row index of each stored value. */
  ir: Int32Array;
  /** Column start offsets into ir / real (length columns + 1). */
  jc: Int32Array;
  real: Float64Array;
  imag?: Float64Array;
  logical: boolean;
}

/** Function handles and MCOS objects (e.g. `string`): kept as a marker, their bytes skipped. */
export interface MatUnsupported {
  kind: 'unsupported';
  classCode: number;
}

export type MatValue = MatNumeric | MatChar | MatCell | MatStruct | MatSparse | MatUnsupported;

// Data types (miXXX) and array classes (mxXXX) from the MAT-file format reference.
const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;
const MI_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 2,
  5: 4,
  6: 4,
  7: 4,
  9: 8,
  12: 8,
  13: 8,
  16: 1,
  17: 2,
  18: 4,
};
const MX = { CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5 } as const;
const MX_NUMERIC: Record<number, MatNumericClass> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};
const MX_OPAQUE = 17;
const FLAG_COMPLEX = 0x0800;
const FLAG_LOGICAL = 0x0200;

interface Tag {
  type: number;
  nbytes: number;
  /** Offset of the element's data. */
  data: number;
  /** Offset of the next element. */
  next: number;
}

/** A view of one byte block (the file, or one decompressed variable) with the file's byte order. */
class Block {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
    readonly where: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(off: number, msg: string): never {
    throw new Error(`${this.where}: offset ${off}: ${msg}`);
  }

  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }

  tag(off: number, end: number): Tag {
    if (off + 8 > end) this.fail(off, `truncated data element tag (need 8 bytes, ${end - off} left)`);
    const w0 = this.u32(off);
    if (w0 >>> 16 !== 0) {
      // Small data element: byte count and type share the first word, data fits in the second.
      const nbytes = w0 >>> 16,
        type = w0 & 0xffff;
      if (nbytes > 4) this.fail(off, `small data element claims ${nbytes} bytes (at most 4)`);
      return { type, nbytes, data: off + 4, next: off + 8 };
    }
    const type = w0,
      nbytes = this.u32(off + 4);
    const data = off + 8;
    if (data + nbytes > end) this.fail(off, `element of type ${type} claims ${nbytes} bytes, only ${end - data} left`);
    // Compressed elements are not padded; everything else is padded to 8 bytes.
    const next = type === MI.COMPRESSED ? data + nbytes : data + Math.ceil(nbytes / 8) * 8;
    return { type, nbytes, data, next: Math.min(next, end) };
  }

  expectTag(off: number, end: number, what: string, types: readonly number[]): Tag {
    const t = this.tag(off, end);
    if (!types.includes(t.type))
      this.fail(off, `expected ${what} (data type ${types.join(' or ')}), found data type ${t.type}`);
    return t;
  }

  /** The values of a numeric data element as doubles. */
  numbers(t: Tag, at: number): Float64Array {
    const size = MI_SIZE[t.type];
    if (size === undefined) this.fail(at, `data type ${t.type} is not numeric`);
    if (t.nbytes % size !== 0) this.fail(at, `${t.nbytes} bytes is not a whole number of ${size}-byte values`);
    const n = t.nbytes / size,
      v = this.view,
      le = this.le,
      o = t.data;
    const out = new Float64Array(n);
    switch (t.type) {
      case MI.INT8:
        for (let i = 0; i < n; i++) out[i] = v.getInt8(o + i);
        break;
      case MI.UINT8:
      case MI.UTF8:
        for (let i = 0; i < n; i++) out[i] = v.getUint8(o + i);
        break;
      case MI.INT16:
        for (let i = 0; i < n; i++) out[i] = v.getInt16(o + 2 * i, le);
        break;
      case MI.UINT16:
      case MI.UTF16:
        for (let i = 0; i < n; i++) out[i] = v.getUint16(o + 2 * i, le);
        break;
      case MI.INT32:
        for (let i = 0; i < n; i++) out[i] = v.getInt32(o + 4 * i, le);
        break;
      case MI.UINT32:
      case MI.UTF32:
        for (let i = 0; i < n; i++) out[i] = v.getUint32(o + 4 * i, le);
        break;
      case MI.SINGLE:
        for (let i = 0; i < n; i++) out[i] = v.getFloat32(o + 4 * i, le);
        break;
      case MI.DOUBLE:
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(o + 8 * i, le);
        break;
      case MI.INT64:
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(o + 8 * i, le));
        break;
      case MI.UINT64:
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigUint64(o + 8 * i, le));
        break;
    }
    return out;
  }

  /** An miINT8 element as a (NUL-terminated) ASCII string. */
  ascii(t: Tag): string {
    let s = '';
    for (let i = 0; i < t.nbytes; i++) {
      const c = this.bytes[t.data + i]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Parses the body of an miMATRIX element occupying [start, end). */
function parseMatrix(b: Block, start: number, end: number): { name: string; value: MatValue } {
  if (start === end)
    return {
      name: '',
      value: { kind: 'numeric', class: 'double', dims: [0, 0], real: new Float64Array(0), logical: false },
    };
  const flagsTag = b.expectTag(start, end, 'array flags', [MI.UINT32]);
  if (flagsTag.nbytes < 4) b.fail(start, 'array flags element is shorter than 4 bytes');
  const flags = b.u32(flagsTag.data);
  const cls = flags & 0xff;
  let off = flagsTag.next;
  if (cls === MX_OPAQUE) {
    // Opaque (MCOS objects such as `string`): name, type system, class name, then metadata; no dims.
    const nameTag = b.expectTag(off, end, 'array name', [MI.INT8, MI.UINT8]);
    return { name: b.ascii(nameTag), value: { kind: 'unsupported', classCode: cls } };
  }
  const dimsTag = b.expectTag(off, end, 'dimensions', [MI.INT32]);
  const dims = Array.from(b.numbers(dimsTag, off));
  if (dims.length < 2 || dims.some((d) => !Number.isInteger(d) || d < 0))
    b.fail(off, `bad dimensions [${dims.join(', ')}]`);
  off = dimsTag.next;
  const nameTag = b.expectTag(off, end, 'array name', [MI.INT8, MI.UINT8]);
  const name = b.ascii(nameTag);
  off = nameTag.next;
  const count = product(dims);
  const where = name ? `variable/field '${name}'` : 'array';

  switch (cls) {
    case MX.CELL: {
      const cells: MatValue[] = [];
      for (let i = 0; i < count; i++) {
        const t = b.expectTag(off, end, `cell ${i} of ${where}`, [MI.MATRIX]);
        cells.push(parseMatrix(b, t.data, t.data + t.nbytes).value);
        off = t.next;
      }
      return { name, value: { kind: 'cell', dims, cells } };
    }
    case MX.STRUCT:
    case MX.OBJECT: {
      let className: string | undefined;
      if (cls === MX.OBJECT) {
        const t = b.expectTag(off, end, 'class name', [MI.INT8, MI.UINT8]);
        className = b.ascii(t);
        off = t.next;
      }
      const lenTag = b.expectTag(off, end, 'field name length', [MI.INT32]);
      const len = b.view.getInt32(lenTag.data, b.le);
      off = lenTag.next;
      const namesTag = b.expectTag(off, end, 'field names', [MI.INT8, MI.UINT8]);
      if (len <= 0 || namesTag.nbytes % len !== 0)
        b.fail(off, `${namesTag.nbytes} bytes of field names is not a multiple of the name length ${len}`);
      const fieldNames: string[] = [];
      for (let k = 0; k < namesTag.nbytes / len; k++) {
        fieldNames.push(b.ascii({ ...namesTag, data: namesTag.data + k * len, nbytes: len }));
      }
      off = namesTag.next;
      const elements: Array<Record<string, MatValue>> = [];
      for (let i = 0; i < count; i++) {
        const rec: Record<string, MatValue> = {};
        for (const f of fieldNames) {
          const t = b.expectTag(off, end, `field '${f}' of element ${i} of ${where}`, [MI.MATRIX]);
          rec[f] = parseMatrix(b, t.data, t.data + t.nbytes).value;
          off = t.next;
        }
        elements.push(rec);
      }
      const value: MatStruct = { kind: 'struct', dims, fieldNames, elements };
      if (className !== undefined) value.className = className;
      return { name, value };
    }
    case MX.CHAR: {
      if (count === 0 && off >= end) return { name, value: { kind: 'char', dims, text: '' } };
      const t = b.tag(off, end);
      let text: string;
      if (t.type === MI.UTF8) {
        text = new TextDecoder('utf-8').decode(b.bytes.subarray(t.data, t.data + t.nbytes));
      } else {
        const codes = b.numbers(t, off);
        if (t.type === MI.UTF16 || t.type === MI.UINT16) {
          text = '';
          for (let i = 0; i < codes.length; i += 4096) text += String.fromCharCode(...codes.subarray(i, i + 4096));
        } else {
          text = String.fromCodePoint(...codes);
        }
      }
      if (t.type !== MI.UTF8 && text.length !== count)
        b.fail(off, `${where}: ${text.length} characters for dimensions [${dims.join(', ')}]`);
      return { name, value: { kind: 'char', dims, text } };
    }
    case MX.SPARSE: {
      const irTag = b.expectTag(off, end, 'sparse row indices', [MI.INT32, MI.UINT32]);
      const ir = Int32Array.from(b.numbers(irTag, off));
      off = irTag.next;
      const jcTag = b.expectTag(off, end, 'sparse column offsets', [MI.INT32, MI.UINT32]);
      const jc = Int32Array.from(b.numbers(jcTag, off));
      off = jcTag.next;
      const nnz = jc[jc.length - 1] ?? 0;
      const prTag = b.tag(off, end);
      const real = b.numbers(prTag, off).subarray(0, nnz);
      off = prTag.next;
      const value: MatSparse = {
        kind: 'sparse',
        dims,
        ir: ir.subarray(0, nnz),
        jc,
        real,
        logical: (flags & FLAG_LOGICAL) !== 0,
      };
      if (flags & FLAG_COMPLEX) value.imag = b.numbers(b.tag(off, end), off).subarray(0, nnz);
      return { name, value };
    }
    default: {
      const numClass = MX_NUMERIC[cls];
      if (numClass === undefined) return { name, value: { kind: 'unsupported', classCode: cls } };
      const realTag = b.tag(off, end);
      const real = b.numbers(realTag, off);
      if (real.length !== count) b.fail(off, `${where}: ${real.length} values for dimensions [${dims.join(', ')}]`);
      const value: MatNumeric = { kind: 'numeric', class: numClass, dims, real, logical: (flags & FLAG_LOGICAL) !== 0 };
      if (flags & FLAG_COMPLEX) {
        const imTag = b.tag(realTag.next, end);
        value.imag = b.numbers(imTag, realTag.next);
        if (value.imag.length !== count)
          b.fail(realTag.next, `${where}: ${value.imag.length} imaginary values for ${count} elements`);
      }
      return { name, value };
    }
  }
}

/** Parses a MAT v5 file's bytes; `where` names it in errors. Variables in file order. */
export function parseMat(bytes: Uint8Array, where = '<buffer>'): Map<string, MatValue> {
  if (bytes.length < 128) throw new Error(`${where}: too short for a MAT-file header (${bytes.length} bytes)`);
  const headerText = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (headerText.startsWith('MATLAB 7.3') || (bytes[512] === 0x89 && bytes[513] === 0x48)) {
    throw new Error(`${where}: MAT v7.3 (HDF5) files are not supported; re-save it with save(..., '-v7')`);
  }
  if (endian !== 'IM' && endian !== 'MI')
    throw new Error(
      `${where}: not a Level 5 MAT-file (no 'IM'/'MI' endian indicator at offset 126; MAT v4 is not supported)`,
    );
  const le = endian === 'IM';
  const file: Block = new Block(bytes, le, where);
  const version = file.view.getUint16(124, le);
  if (version !== 0x0100) file.fail(124, `unsupported MAT-file version 0x${version.toString(16)}`);

  const vars = new Map<string, MatValue>();
  let off = 128;
  while (off + 8 <= bytes.length) {
    const t = file.tag(off, bytes.length);
    if (t.type === MI.COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = inflateBounded(bytes.subarray(t.data, t.data + t.nbytes), le, `${where}: offset ${off}`);
      } catch (e) {
        if ((e as Error).message.startsWith(`${where}: offset ${off}: `)) throw e;
        throw new Error(`${where}: offset ${off}: corrupt compressed variable: ${(e as Error).message}`, { cause: e });
      }
      const inner = new Block(inflated, le, `${where} (variable compressed at offset ${off})`);
      const it = inner.expectTag(0, inflated.length, 'a matrix inside the compressed element', [MI.MATRIX]);
      const { name, value } = parseMatrix(inner, it.data, it.data + it.nbytes);
      vars.set(name, value);
    } else if (t.type === MI.MATRIX) {
      const { name, value } = parseMatrix(file, t.data, t.data + t.nbytes);
      vars.set(name, value);
    } else {
      file.fail(off, `unexpected top-level data type ${t.type} (expected a matrix or compressed element)`);
    }
    off = t.next;
  }
  return vars;
}

/** Reads a MAT v5 file; errors name the file and byte offset. */
export function readMat(file: string): Map<string, MatValue> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read MAT-file: ${(e as Error).message}`, { cause: e });
  }
  return parseMat(bytes, file);
}

/** The rows of a char matrix (MATLAB stores them column-major), right-padding kept. */
export function charRows(c: MatChar): string[] {
  const [rows = 0] = c.dims;
  const cols = rows === 0 ? 0 : c.text.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let s = '';
    for (let k = 0; k < cols; k++) s += c.text[r + k * rows];
    return s;
  });
}

/** A char value as one string (a row vector, or the rows of a matrix joined by newlines). */
export function matString(v: MatValue | undefined, what = 'value'): string {
  if (!v || v.kind !== 'char') throw new TypeError(`${what}: expected a char array, got ${v ? v.kind : 'nothing'}`);
  return (v.dims[0] ?? 0) <= 1 ? v.text : charRows(v).join('\n');
}

/** A real numeric scalar as a number. */
export function matNumber(v: MatValue | undefined, what = 'value'): number {
  if (!v || v.kind !== 'numeric' || v.real.length !== 1) {
    throw new TypeError(
      `${what}: expected a numeric scalar, got ` +
        `${v ? (v.kind === 'numeric' ? `${v.real.length} numbers` : v.kind) : 'nothing'}`,
    );
  }
  return v.real[0]!;
}
