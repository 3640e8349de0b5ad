// Engine-free tensor representation shared by the safetensors and torch.save
// readers/writers, so checkpoints can be inspected and converted without
// loading the native addon.

export type DTypeName =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/**
 * A dense tensor as bytes: little-endian, contiguous, row-major.
 * `data.byteLength` is always `numel(shape) * bytesPerElement(dtype)`.
 * Loaders may return `data` as a view into the buffer they were given (and, for
 * torch files, into a storage shared with other tensors): copy before mutating.
 */
export interface RawTensor {
  dtype: DTypeName;
  shape: number[];
  data: Uint8Array;
}

const BYTES_PER_ELEMENT: Readonly<Record<DTypeName, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export const DTYPE_NAMES: readonly DTypeName[] = Object.freeze(Object.keys(BYTES_PER_ELEMENT) as DTypeName[]);

export function isDTypeName(name: string): name is DTypeName {
  return Object.prototype.hasOwnProperty.call(BYTES_PER_ELEMENT, name);
}

export function bytesPerElement(dtype: DTypeName): number {
  const n = BYTES_PER_ELEMENT[dtype];
  if (n === undefined) throw new Error(`unknown dtype '${String(dtype)}'`);
  return n;
}

/**
 * Element count of `shape`; throws (mentioning `what`) unless every dimension
 * is a non-negative safe integer and the product stays a safe integer, which is
 * what makes later byte-length arithmetic trustworthy on untrusted headers.
 */
export function shapeNumel(shape: readonly unknown[], what = 'tensor'): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new Error(
        `${what}: invalid shape [${shape.map(String).join(', ')}]: dimensions must be non-negative integers`,
      );
    }
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw new Error(`${what}: shape [${shape.join(', ')}] has too many elements`);
    }
  }
  return n;
}

/** Byte length the data of a tensor with this dtype and shape must have. */
export function rawByteLength(dtype: DTypeName, shape: readonly number[], what = 'tensor'): number {
  const bytes = shapeNumel(shape, what) * bytesPerElement(dtype);
  if (!Number.isSafeInteger(bytes)) throw new Error(`${what}: byte size overflows`);
  return bytes;
}

/** Throws (mentioning `what`) if `t` is not self-consistent. */
export function assertRawTensor(t: RawTensor, what = 'tensor'): void {
  if (!isDTypeName(t.dtype)) throw new Error(`${what}: unknown dtype '${String(t.dtype)}'`);
  if (!Array.isArray(t.shape)) throw new Error(`${what}: shape must be an array`);
  if (!(t.data instanceof Uint8Array)) throw new Error(`${what}: data must be a Uint8Array`);
  const expected = rawByteLength(t.dtype, t.shape, what);
  if (t.data.byteLength !== expected) {
    throw new Error(
      `${what}: data has ${t.data.byteLength} bytes but ${t.dtype}[${t.shape.join(', ')}] needs ${expected}`,
    );
  }
}

/** Reverses the byte order of every `itemSize`-byte element in place. */
export function byteSwapInPlace(data: Uint8Array, itemSize: number): void {
  if (itemSize <= 1) return;
  if (data.byteLength % itemSize !== 0) {
    throw new Error(`byteSwapInPlace: ${data.byteLength} bytes is not a multiple of ${itemSize}`);
  }
  for (let i = 0; i < data.byteLength; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = data[a]!;
      data[a] = data[b]!;
      data[b] = t;
    }
  }
}

export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function bfloat16BitsToNumber(h: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, ((h & 0xffff) << 16) >>> 0);
  return view.getFloat32(0);
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// Rounds a double straight to a small binary float format (round to nearest,
// ties to even); going through float32 first would round twice.
function encodeSmallFloat(v: number, expBits: number, mantBits: number): number {
  const expMask = (1 << expBits) - 1;
  if (Number.isNaN(v)) return (expMask << mantBits) | (1 << (mantBits - 1));
  const sign = v < 0 || Object.is(v, -0) ? 1 << (expBits + mantBits) : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a === Infinity) return sign | (expMask << mantBits);
  const bias = (1 << (expBits - 1)) - 1;
  const emin = 1 - bias;
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  if (e < emin) {
    // Subnormal: a rounding carry into 1 << mantBits is the correct encoding
    // of the smallest normal number, so no special case is needed.
    return sign | roundHalfEven(a * 2 ** (mantBits - emin));
  }
  let m = roundHalfEven((a / 2 ** e - 1) * 2 ** mantBits);
  if (m === 2 ** mantBits) {
    e++;
    m = 0;
  }
  if (e > bias) return sign | (expMask << mantBits);
  return sign | ((e + bias) << mantBits) | m;
}

export function numberToFloat16Bits(v: number): number {
  return encodeSmallFloat(v, 5, 10);
}

export function numberToBfloat16Bits(v: number): number {
  return encodeSmallFloat(v, 8, 7);
}

function dataView(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Decodes a tensor to plain numbers in row-major order (bool as 0/1).
 * int64 values beyond ±2^53 lose precision; use {@link rawTensorToBigInts}.
 */
export function rawTensorToNumbers(t: RawTensor): number[] {
  assertRawTensor(t);
  const v = dataView(t.data);
  const n = t.data.byteLength / bytesPerElement(t.dtype);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'float32':
        out[i] = v.getFloat32(i * 4, true);
        break;
      case 'float64':
        out[i] = v.getFloat64(i * 8, true);
        break;
      case 'float16':
        out[i] = float16BitsToNumber(v.getUint16(i * 2, true));
        break;
      case 'bfloat16':
        out[i] = bfloat16BitsToNumber(v.getUint16(i * 2, true));
        break;
      case 'int64':
        out[i] = Number(v.getBigInt64(i * 8, true));
        break;
      case 'int32':
        out[i] = v.getInt32(i * 4, true);
        break;
      case 'int16':
        out[i] = v.getInt16(i * 2, true);
        break;
      case 'int8':
        out[i] = v.getInt8(i);
        break;
      case 'uint8':
        out[i] = v.getUint8(i);
        break;
      case 'bool':
        out[i] = v.getUint8(i) !== 0 ? 1 : 0;
        break;
    }
  }
  return out;
}

/** Exact decoding of an int64 tensor. */
export function rawTensorToBigInts(t: RawTensor): bigint[] {
  assertRawTensor(t);
  if (t.dtype !== 'int64') throw new Error(`rawTensorToBigInts: expected int64, got ${t.dtype}`);
  const v = dataView(t.data);
  const out = new Array<bigint>(t.data.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = v.getBigInt64(i * 8, true);
  return out;
}

function checkInteger(x: number, lo: number, hi: number, dtype: DTypeName): number {
  if (!Number.isInteger(x) || x < lo || x > hi) {
    throw new Error(`rawTensorFromNumbers: ${x} is not representable as ${dtype}`);
  }
  return x;
}

/**
 * Encodes row-major `values` as a tensor. Floats are rounded to nearest-even;
 * integers must be exact and in range (no silent wrap-around); for bool any
 * non-zero value is true.
 */
export function rawTensorFromNumbers(
  dtype: DTypeName,
  shape: readonly number[],
  values: ArrayLike<number | bigint>,
): RawTensor {
  const numel = shapeNumel(shape);
  if (values.length !== numel) {
    throw new Error(
      `rawTensorFromNumbers: ${values.length} values for shape [${shape.join(', ')}] (${numel} elements)`,
    );
  }
  const data = new Uint8Array(numel * bytesPerElement(dtype));
  const v = dataView(data);
  for (let i = 0; i < numel; i++) {
    const raw = values[i]!;
    if (dtype === 'int64') {
      const b = typeof raw === 'bigint' ? raw : BigInt(checkInteger(raw, -(2 ** 63), 2 ** 63, dtype));
      if (b < -(2n ** 63n) || b >= 2n ** 63n)
        throw new Error(`rawTensorFromNumbers: ${b} is not representable as int64`);
      v.setBigInt64(i * 8, b, true);
      continue;
    }
    const x = Number(raw);
    switch (dtype) {
      case 'float32':
        v.setFloat32(i * 4, x, true);
        break;
      case 'float64':
        v.setFloat64(i * 8, x, true);
        break;
      case 'float16':
        v.setUint16(i * 2, numberToFloat16Bits(x), true);
        break;
      case 'bfloat16':
        v.setUint16(i * 2, numberToBfloat16Bits(x), true);
        break;
      case 'int32':
        v.setInt32(i * 4, checkInteger(x, -(2 ** 31), 2 ** 31 - 1, dtype), true);
        break;
      case 'int16':
        v.setInt16(i * 2, checkInteger(x, -(2 ** 15), 2 ** 15 - 1, dtype), true);
        break;
      case 'int8':
        v.setInt8(i, checkInteger(x, -128, 127, dtype));
        break;
      case 'uint8':
        v.setUint8(i, checkInteger(x, 0, 255, dtype));
        break;
      case 'bool':
        v.setUint8(i, x !== 0 ? 1 : 0);
        break;
    }
  }
  return { dtype, shape: [...shape], data };
}
