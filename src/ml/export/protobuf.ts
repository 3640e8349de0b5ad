// The Protocol Buffers wire format, hand-written: a writer for the few ONNX messages the exporter
// emits (onnx-proto.ts) and a small field reader for inspecting what was written (tests, tools).
//
// Why not a protobuf library: the ONNX schema subset we need is small and fixed, and a model is
// mostly one big raw_data blob per weight. The writer keeps those blobs by reference (no copy)
// until finish(), so a ResNet-50 (~100 MB of float32) is copied exactly once into the output.

/** Wire types (https://protobuf.dev/programming-guides/encoding/). */
export const WireType = { Varint: 0, I64: 1, Len: 2, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const TWO_64 = 1n << 64n;
/** Byte arrays shorter than this are copied into the scratch buffer; longer ones are referenced. */
const COPY_BELOW = 256;

/**
 * Appends fields to a message. Every method writes one field (tag + payload); repeated fields are
 * written by calling it once per element (proto2 style, unpacked: what ONNX's own serializer emits
 * for `repeated int64 dims`/`ints`; parsers accept both forms anyway).
 *
 * Byte arrays passed to bytes() and messages passed to message() are kept by reference until
 * finish(): do not mutate them in between.
 */
export class ProtoWriter {
  readonly #parts: Uint8Array[] = [];
  #partsLength = 0;
  #scratch = new Uint8Array(128);
  #pos = 0;

  /** Encoded size so far, in bytes. */
  get length(): number {
    return this.#partsLength + this.#pos;
  }

  /** A varint field holding a non-negative safe integer (uint32/uint64/enum/bool, or a non-negative int). */
  uint(field: number, v: number): this {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`protobuf: field ${field}: expected a non-negative safe integer, got ${v}`);
    this.#tag(field, WireType.Varint);
    this.#varint(v);
    return this;
  }

  /** An int32/int64 field: negatives are encoded as ten-byte two's complement, as protobuf does. */
  int(field: number, v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v))
      throw new RangeError(`protobuf: field ${field}: expected a safe integer, got ${v}`);
    if (v >= 0) {
      this.#tag(field, WireType.Varint);
      if (typeof v === 'number') this.#varint(v);
      else this.#varintBig(v);
      return this;
    }
    const big = BigInt(v);
    if (big < -(1n << 63n)) throw new RangeError(`protobuf: field ${field}: ${v} does not fit int64`);
    this.#tag(field, WireType.Varint);
    this.#varintBig(big + TWO_64);
    return this;
  }

  /** A 32-bit float field (fixed32, little-endian). */
  float(field: number, v: number): this {
    this.#tag(field, WireType.I32);
    this.#reserve(4);
    new DataView(this.#scratch.buffer).setFloat32(this.#pos, v, true);
    this.#pos += 4;
    return this;
  }

  /** A UTF-8 string field. */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** A bytes field; large arrays are referenced, not copied. */
  bytes(field: number, b: Uint8Array): this {
    this.#tag(field, WireType.Len);
    this.#varint(b.byteLength);
    this.#append(b);
    return this;
  }

  /** An embedded message field; its chunks are referenced, not copied. */
  message(field: number, m: ProtoWriter): this {
    this.#tag(field, WireType.Len);
    this.#varint(m.length);
    m.#flush();
    this.#flush();
    for (const p of m.#parts) this.#parts.push(p);
    this.#partsLength += m.#partsLength;
    return this;
  }

  /** The message as one contiguous byte array (the only full copy of the payload). */
  finish(): Uint8Array {
    this.#flush();
    if (this.#parts.length === 1) return this.#parts[0]!;
    const out = new Uint8Array(this.#partsLength);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }

  #tag(field: number, wire: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff)
      throw new RangeError(`protobuf: invalid field number ${field}`);
    this.#varint(field * 8 + wire);
  }

  #varint(v: number): void {
    this.#reserve(10);
    // Division, not bit shifts: values may exceed 32 bits.
    while (v >= 0x80) {
      this.#scratch[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#scratch[this.#pos++] = v;
  }

  #varintBig(v: bigint): void {
    this.#reserve(10);
    while (v >= 0x80n) {
      this.#scratch[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#scratch[this.#pos++] = Number(v);
  }

  #append(b: Uint8Array): void {
    if (b.byteLength < COPY_BELOW) {
      this.#reserve(b.byteLength);
      this.#scratch.set(b, this.#pos);
      this.#pos += b.byteLength;
      return;
    }
    this.#flush();
    this.#parts.push(b);
    this.#partsLength += b.byteLength;
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#scratch.byteLength) return;
    const next = new Uint8Array(Math.max(this.#scratch.byteLength * 2, this.#pos + n));
    next.set(this.#scratch.subarray(0, this.#pos));
    this.#scratch = next;
  }

  /** Moves the scratch bytes into the part list (a fresh scratch buffer follows). */
  #flush(): void {
    if (this.#pos === 0) return;
    this.#parts.push(this.#scratch.subarray(0, this.#pos));
    this.#partsLength += this.#pos;
    this.#scratch = new Uint8Array(128);
    this.#pos = 0;
  }
}

/** One decoded field: varints as bigint (unsigned 64-bit), everything else as bytes (views, no copy). */
export interface ProtoField {
  field: number;
  wire: WireType;
  /** Varint fields: the raw unsigned value. */
  varint?: bigint;
  /** Len fields: the payload; I32/I64 fields: the 4/8 little-endian bytes. */
  bytes?: Uint8Array;
}

/**
 * The fields of one message, in order. Not a full decoder (no schema): enough to walk an ONNX
 * model's nodes and shapes in tests and tools. Throws on truncated or malformed input.
 */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n,
      shift = 0n;
    for (;;) {
      if (pos >= buf.byteLength) throw new RangeError('protobuf: truncated varint');
      if (shift > 63n) throw new RangeError('protobuf: varint too long');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > buf.byteLength) throw new RangeError('protobuf: truncated field');
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  while (pos < buf.byteLength) {
    const key = varint();
    const field = Number(key >> 3n),
      wire = Number(key & 7n) as WireType;
    if (field < 1) throw new RangeError('protobuf: field number 0');
    switch (wire) {
      case WireType.Varint:
        out.push({ field, wire, varint: varint() });
        break;
      case WireType.I64:
        out.push({ field, wire, bytes: take(8) });
        break;
      case WireType.I32:
        out.push({ field, wire, bytes: take(4) });
        break;
      case WireType.Len:
        out.push({ field, wire, bytes: take(Number(varint())) });
        break;
      default:
        throw new RangeError(`protobuf: unsupported wire type ${wire as number}`);
    }
  }
  return out;
}

/** A varint read back as a signed int64 (two's complement), as a number. */
export const asInt64 = (v: bigint): number => Number(BigInt.asIntN(64, v));
