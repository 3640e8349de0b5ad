// Shared by the data tests: temp folders, generated images, and a minimal MAT v5 writer (for
// fixtures in the original Cars-196 layout; the reader is checked against real MATLAB files too).
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A folder of class folders (`classes`), each with `perClass` distinct side×side PNGs. */
export async function writeClassFolders(
  root: string,
  classes: string[],
  perClass: number,
  side: number,
): Promise<void> {
  for (const [c, name] of classes.entries()) {
    mkdirSync(path.join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.from(Array.from({ length: side * side * 3 }, (_, j) => (j * (c + 2) + i * 31) & 255));
      await sharp(px, { raw: { width: side, height: side, channels: 3 } })
        .png()
        .toFile(path.join(root, name, `${i}.png`));
    }
  }
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `dml-data-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic photo-like RGB pattern: smooth gradients plus texture, so resampling has work to do. */
export function pattern(width: number, height: number, seed = 0): Buffer {
  const out = Buffer.alloc(width * height * 3);
  let s = (seed * 2654435761 + 12345) >>> 0;
  const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[i] = Math.min(255, Math.round(((255 * x) / width) * 0.7 + 60 * rnd()));
      out[i + 1] = Math.min(255, Math.round(((255 * y) / height) * 0.6 + 90 * Math.abs(Math.sin((x + seed) / 5))));
      out[i + 2] = Math.min(255, Math.round(128 + 100 * Math.sin((x * y + seed) / 37) * rnd()));
    }
  }
  return out;
}

export async function writeImage(
  file: string,
  width: number,
  height: number,
  opts: { seed?: number; format?: 'jpeg' | 'png'; gray?: boolean } = {},
): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  let s = sharp(pattern(width, height, opts.seed ?? 0), { raw: { width, height, channels: 3 } });
  if (opts.gray) s = s.toColourspace('b-w');
  const format = opts.format ?? (file.endsWith('.png') ? 'png' : 'jpeg');
  await (format === 'png' ? s.png() : s.jpeg({ quality: 90 })).toFile(file);
}

export function writeText(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

// ---- MAT v5 writer (little-endian) ----

export type MatIn =
  | { char: string; utf8?: boolean }
  | { double: number[]; dims?: number[]; asUint8?: boolean }
  | { cell: MatIn[] }
  | { struct: Array<Record<string, MatIn>>; fields: string[] };

function pad8(b: Buffer): Buffer {
  const rem = b.length % 8;
  return rem ? Buffer.concat([b, Buffer.alloc(8 - rem)]) : b;
}

function element(type: number, payload: Buffer, small = true): Buffer {
  if (small && payload.length <= 4) {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(type, 0);
    b.writeUInt16LE(payload.length, 2);
    payload.copy(b, 4);
    return b;
  }
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(payload.length, 4);
  return pad8(Buffer.concat([tag, payload]));
}

function int32s(v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeInt32LE(x, 4 * i));
  return b;
}

function matrix(name: string, v: MatIn): Buffer {
  let cls: number, dims: number[];
  const parts: Buffer[] = [];
  if ('char' in v) {
    cls = 4;
    dims = [1, v.char.length];
    if (v.utf8) parts.push(element(16, Buffer.from(v.char, 'utf8')));
    else {
      const b = Buffer.alloc(2 * v.char.length);
      for (let i = 0; i < v.char.length; i++) b.writeUInt16LE(v.char.charCodeAt(i), 2 * i);
      parts.push(element(17, b)); // miUTF16, as scipy writes chars
    }
  } else if ('double' in v) {
    cls = 6;
    dims = v.dims ?? [1, v.double.length];
    if (v.asUint8)
      parts.push(element(2, Buffer.from(v.double))); // MATLAB stores small integers compactly
    else {
      const b = Buffer.alloc(8 * v.double.length);
      v.double.forEach((x, i) => b.writeDoubleLE(x, 8 * i));
      parts.push(element(9, b));
    }
  } else if ('cell' in v) {
    cls = 1;
    dims = [1, v.cell.length];
    for (const c of v.cell) parts.push(matrix('', c));
  } else {
    cls = 2;
    dims = [1, v.struct.length];
    parts.push(element(5, int32s([32])));
    const names = Buffer.alloc(32 * v.fields.length);
    v.fields.forEach((f, i) => names.write(f, 32 * i, 'latin1'));
    parts.push(element(1, names));
    for (const rec of v.struct) for (const f of v.fields) parts.push(matrix('', rec[f]!));
  }
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(cls, 0);
  const body = Buffer.concat([
    element(6, flags, false),
    element(5, int32s(dims), false),
    element(1, Buffer.from(name, 'latin1')),
    ...parts,
  ]);
  return element(14, body, false);
}

export function writeMat(vars: Record<string, MatIn>, compress: boolean): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, written by the dml-ts tests', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const body = Object.entries(vars).map(([name, v]) => {
    const m = matrix(name, v);
    if (!compress) return m;
    const z = deflateSync(m);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  });
  return Buffer.concat([header, ...body]);
}
