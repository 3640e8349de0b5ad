// Builders for hand-made (often deliberately broken) zip archives and pickle
// programs used by serialize.test.ts.

import * as zlib from 'node:zlib';
import { crc32 } from '../../../src/engine/serialize/zip.js';

export interface ZipInput {
  name: string;
  data: Uint8Array | string;
  deflate?: boolean;
  /** Lie in the headers, to exercise corruption checks. */
  crc?: number;
  uncompressedSize?: number;
}

function bytesOf(d: Uint8Array | string): Uint8Array {
  return typeof d === 'string' ? new TextEncoder().encode(d) : d;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

class Bytes {
  private readonly parts: Uint8Array[] = [];
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.parts.push(b);
    return this;
  }
  u64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.parts.push(b);
    return this;
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  done(): Uint8Array {
    return concat(this.parts);
  }
}

/** A zip archive; with `zip64` every size/offset goes through ZIP64 records. */
export function buildZip(entries: readonly ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const zip64 = opts.zip64 ?? false;
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const data = bytesOf(e.data);
    const stored = e.deflate ? zlib.deflateRawSync(data) : data;
    const crc = e.crc ?? crc32(data);
    const usize = e.uncompressedSize ?? data.byteLength;
    const method = e.deflate ? 8 : 0;
    const local = new Bytes()
      .u32(0x04034b50)
      .u16(20)
      .u16(0)
      .u16(method)
      .u16(0)
      .u16(0x21)
      .u32(crc)
      .u32(stored.byteLength)
      .u32(usize)
      .u16(name.byteLength)
      .u16(0)
      .raw(name)
      .raw(stored)
      .done();
    const extra = zip64
      ? new Bytes().u16(0x0001).u16(24).u64(usize).u64(stored.byteLength).u64(offset).done()
      : new Uint8Array(0);
    centrals.push(
      new Bytes()
        .u32(0x02014b50)
        .u16(45)
        .u16(45)
        .u16(0)
        .u16(method)
        .u16(0)
        .u16(0x21)
        .u32(crc)
        .u32(zip64 ? 0xffffffff : stored.byteLength)
        .u32(zip64 ? 0xffffffff : usize)
        .u16(name.byteLength)
        .u16(extra.byteLength)
        .u16(0)
        .u16(0)
        .u16(0)
        .u32(0)
        .u32(zip64 ? 0xffffffff : offset)
        .raw(name)
        .raw(extra)
        .done(),
    );
    locals.push(local);
    offset += local.byteLength;
  }
  const cd = concat(centrals);
  const tail = new Bytes();
  if (zip64) {
    const eocd64At = offset + cd.byteLength;
    tail
      .u32(0x06064b50)
      .u64(44)
      .u16(45)
      .u16(45)
      .u32(0)
      .u32(0)
      .u64(entries.length)
      .u64(entries.length)
      .u64(cd.byteLength)
      .u64(offset)
      .u32(0x07064b50)
      .u32(0)
      .u64(eocd64At)
      .u32(1);
  }
  tail
    .u32(0x06054b50)
    .u16(0)
    .u16(0)
    .u16(zip64 ? 0xffff : entries.length)
    .u16(zip64 ? 0xffff : entries.length)
    .u32(zip64 ? 0xffffffff : cd.byteLength)
    .u32(zip64 ? 0xffffffff : offset)
    .u16(0);
  return concat([...locals, cd, tail.done()]);
}

/** Assembles pickle programs opcode by opcode. */
export class PickleWriter {
  private readonly out: number[] = [];

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(n = 2): this {
    return this.op(0x80, n);
  }
  mark(): this {
    return this.op(0x28);
  }
  stop(): this {
    return this.op(0x2e);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyList(): this {
    return this.op(0x5d);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  tuple(): this {
    return this.op(0x74);
  }
  none(): this {
    return this.op(0x4e);
  }
  newFalse(): this {
    return this.op(0x89);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return this.op(0x4a, ...b);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.byteLength, true);
    return this.op(0x58, ...len, ...b);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).op(0x93);
  }
  reduce(): this {
    return this.op(0x52);
  }
  build(): this {
    return this.op(0x62);
  }
  setItem(): this {
    return this.op(0x73);
  }
  append(): this {
    return this.op(0x61);
  }
  put(i: number): this {
    return this.op(0x71, i);
  }
  get(i: number): this {
    return this.op(0x68, i);
  }
  intTuple(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  /** Pushes _rebuild_tensor_v2(storage <key>, offset, size, stride, False, OrderedDict()). */
  tensor(storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().op(0x51);
    this.int(offset).intTuple(size).intTuple(stride).newFalse();
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export function float32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** A torch.save-style archive 'archive/...' around a pickle and its storages. */
export function buildTorchZip(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array> = {},
  extra: ZipInput[] = [],
  opts: { zip64?: boolean; deflate?: boolean } = {},
): Uint8Array {
  const entries: ZipInput[] = [{ name: 'archive/data.pkl', data: pickle, deflate: opts.deflate }];
  for (const [k, v] of Object.entries(storages))
    entries.push({ name: `archive/data/${k}`, data: v, deflate: opts.deflate });
  entries.push({ name: 'archive/version', data: '3\n' }, ...extra);
  return buildZip(entries, { zip64: opts.zip64 });
}
