// Minimal read-only zip reader for torch.save archives: central directory
// (with ZIP64, which PyTorch's writer always emits), stored and deflated
// entries, CRC-32 checks. Every offset and size read from the file is bounds
// checked before use because the archive is untrusted.

import * as zlib from 'node:zlib';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_EXTRA_ID = 0x0001;

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

let crcTable: Uint32Array | undefined;

function crc32Fallback(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// zlib.crc32 exists from Node 20.15; older 20.x releases get the table version.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(data: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(data) >>> 0 : crc32Fallback(data);
}

export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly view: DataView;

  /** `source` prefixes every error message. */
  constructor(
    private readonly buf: Uint8Array,
    private readonly source = '<buffer>',
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.entries = this.readCentralDirectory();
  }

  private fail(message: string): Error {
    return new Error(`zip ${this.source}: ${message}`);
  }

  private u16(off: number): number {
    return this.view.getUint16(off, true);
  }

  private u32(off: number): number {
    return this.view.getUint32(off, true);
  }

  private u64(off: number, what: string): number {
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${what} ${v} is too large`);
    return Number(v);
  }

  private need(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.buf.byteLength) {
      throw this.fail(
        `truncated or corrupt: ${what} at offset ${off} (+${len}) lies outside the ${this.buf.byteLength}-byte file`,
      );
    }
  }

  private findEocd(): number {
    const min = Math.max(0, this.buf.byteLength - EOCD_SIZE - 0xffff);
    for (let off = this.buf.byteLength - EOCD_SIZE; off >= min; off--) {
      if (this.u32(off) === SIG_EOCD && off + EOCD_SIZE + this.u16(off + 20) === this.buf.byteLength) return off;
    }
    for (let off = this.buf.byteLength - EOCD_SIZE; off >= min; off--) {
      if (this.u32(off) === SIG_EOCD) return off; // tolerate trailing junk after the comment
    }
    throw this.fail('not a zip archive or truncated (no end-of-central-directory record)');
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    if (this.buf.byteLength < EOCD_SIZE)
      throw this.fail(`truncated: ${this.buf.byteLength} bytes is too short for a zip archive`);
    const eocd = this.findEocd();
    if (this.u16(eocd + 4) !== 0 || this.u16(eocd + 6) !== 0) throw this.fail('multi-disk archives are not supported');
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);

    const locator = eocd - 20;
    if (locator >= 0 && this.u32(locator) === SIG_EOCD64_LOCATOR) {
      const eocd64 = this.u64(locator + 8, 'ZIP64 end record offset');
      this.need(eocd64, 56, 'ZIP64 end-of-central-directory record');
      if (this.u32(eocd64) !== SIG_EOCD64) throw this.fail('corrupt ZIP64 end-of-central-directory record');
      count = this.u64(eocd64 + 32, 'entry count');
      cdSize = this.u64(eocd64 + 40, 'central directory size');
      cdOffset = this.u64(eocd64 + 48, 'central directory offset');
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw this.fail('ZIP64 sizes announced but the ZIP64 end-of-central-directory locator is missing');
    }
    this.need(cdOffset, cdSize, 'central directory');

    const entries = new Map<string, ZipEntry>();
    const decoder = new TextDecoder('utf-8', { fatal: false });
    let off = cdOffset;
    const end = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      this.need(off, 46, 'central directory entry');
      if (off + 46 > end || this.u32(off) !== SIG_CENTRAL) throw this.fail(`corrupt central directory entry ${i}`);
      const flags = this.u16(off + 8);
      const method = this.u16(off + 10);
      const crc = this.u32(off + 16);
      let compressedSize = this.u32(off + 20);
      let uncompressedSize = this.u32(off + 24);
      const nameLen = this.u16(off + 28);
      const extraLen = this.u16(off + 30);
      const commentLen = this.u16(off + 32);
      let localHeaderOffset = this.u32(off + 42);
      this.need(off + 46, nameLen + extraLen + commentLen, 'central directory entry name');
      const name = decoder.decode(this.buf.subarray(off + 46, off + 46 + nameLen));
      if (flags & 0x1) throw this.fail(`entry '${name}' is encrypted`);

      // ZIP64 extended information: present fields follow, in this order, only
      // for the 32-bit fields saturated at 0xffffffff.
      const extraStart = off + 46 + nameLen;
      for (let p = extraStart; p + 4 <= extraStart + extraLen;) {
        const id = this.u16(p);
        const size = this.u16(p + 2);
        if (p + 4 + size > extraStart + extraLen) throw this.fail(`entry '${name}': corrupt extra field`);
        if (id === ZIP64_EXTRA_ID) {
          let q = p + 4;
          const take = (what: string): number => {
            if (q + 8 > p + 4 + size) throw this.fail(`entry '${name}': ZIP64 extra field lacks ${what}`);
            const v = this.u64(q, what);
            q += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take('uncompressed size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
        }
        p += 4 + size;
      }
      if (entries.has(name)) throw this.fail(`duplicate entry '${name}'`);
      entries.set(name, { name, method, crc32: crc, compressedSize, uncompressedSize, localHeaderOffset });
      off += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * Contents of entry `name`. Stored entries are returned as views into the
   * archive buffer (no copy); deflated ones are inflated with an output cap
   * equal to the declared size, so a zip bomb cannot balloon memory.
   */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw this.fail(`missing entry '${name}'`);
    const h = e.localHeaderOffset;
    this.need(h, 30, `local header of '${name}'`);
    if (this.u32(h) !== SIG_LOCAL) throw this.fail(`corrupt local header of '${name}'`);
    const dataStart = h + 30 + this.u16(h + 26) + this.u16(h + 28);
    this.need(dataStart, e.compressedSize, `data of '${name}'`);
    const raw = new Uint8Array(this.buf.buffer, this.buf.byteOffset + dataStart, e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) throw this.fail(`stored entry '${name}' has inconsistent sizes`);
      out = raw;
    } else if (e.method === 8) {
      let inflated: Buffer;
      try {
        inflated = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
      } catch (err) {
        throw this.fail(`cannot inflate '${name}': ${(err as Error).message}`);
      }
      out = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } else {
      throw this.fail(`entry '${name}' uses unsupported compression method ${e.method}`);
    }
    if (out.byteLength !== e.uncompressedSize) {
      throw this.fail(`entry '${name}' inflated to ${out.byteLength} bytes, expected ${e.uncompressedSize}`);
    }
    if (crc32(out) !== e.crc32) throw this.fail(`CRC-32 mismatch in entry '${name}' (corrupt archive)`);
    return out;
  }
}
