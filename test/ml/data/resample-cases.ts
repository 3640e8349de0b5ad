// Random resize cases for resample-simd.test.ts, importable by its DML_NO_SIMD child process.
import { resizeBytes } from '../../../src/engine/image.js';
import { prng } from '../../prng.js';

export interface Case {
  w: number; h: number; c: number; seed: number;
  box: { x: number; y: number; width: number; height: number };
  ow: number; oh: number;
}

export function cases(): Case[] {
  const r = prng(11);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const out: Case[] = [];
  for (let i = 0; i < 120; i++) {
    const w = int(1, 90), h = int(1, 70), c = [1, 3, 3, 3, 4][int(0, 4)]!;
    const bw = int(1, w), bh = int(1, h);
    // Every fourth box ends at the image's last pixel.
    const x = i % 4 === 0 ? w - bw : int(0, w - bw), y = i % 4 === 0 ? h - bh : int(0, h - bh);
    out.push({ w, h, c, seed: i, box: { x, y, width: bw, height: bh }, ow: int(1, 120), oh: int(1, 100) });
  }
  out.push({ w: 500, h: 375, c: 3, seed: 1000, box: { x: 0, y: 0, width: 500, height: 375 }, ow: 341, oh: 256 });
  out.push({ w: 341, h: 256, c: 3, seed: 1001, box: { x: 200, y: 100, width: 141, height: 156 }, ow: 224, oh: 224 });
  return out;
}

function pixels(k: Case): Uint8Array {
  const r = prng(k.seed + 7);
  return Uint8Array.from({ length: k.w * k.h * k.c }, () => Math.floor(r() * 256));
}

export const resizeAll = (list: Case[]): Uint8Array[] => list.map((k) => resizeBytes(pixels(k), k.w, k.h, k.c, k.box, k.ow, k.oh));

