// Random inputs for simd-kernels.test.ts, importable by its DML_NO_SIMD child process: every
// pixel kernel with an AVX2 version, on sizes that leave vector tails and boxes that end at the
// buffer's last byte (where vector loads would overrun and the scalar path takes over).
import { bytesToFloat, jitterBytes, resizeBytes, type ColorStep } from '../../../src/engine/image.js';
import { prng } from '../../prng.js';

export interface Case {
  w: number;
  h: number;
  c: number;
  seed: number;
  box: { x: number; y: number; width: number; height: number };
  ow: number;
  oh: number;
  steps: ColorStep[];
}

export function cases(): Case[] {
  const r = prng(11);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const out: Case[] = [];
  for (let i = 0; i < 120; i++) {
    const w = int(1, 90),
      h = int(1, 70),
      c = [1, 3, 3, 3, 4][int(0, 4)]!;
    const bw = int(1, w),
      bh = int(1, h);
    // Every fourth box ends at the image's last pixel.
    const x = i % 4 === 0 ? w - bw : int(0, w - bw),
      y = i % 4 === 0 ? h - bh : int(0, h - bh);
    const steps = Array.from({ length: int(0, 5) }, (): ColorStep => {
      const op = int(0, 3) as ColorStep['op'];
      return { op, factor: op === 3 ? r() - 0.5 : r() * 2.2 };
    });
    out.push({ w, h, c, seed: i, box: { x, y, width: bw, height: bh }, ow: int(1, 120), oh: int(1, 100), steps });
  }
  const full = { x: 0, y: 0, width: 500, height: 375 };
  out.push({
    w: 500,
    h: 375,
    c: 3,
    seed: 1000,
    box: full,
    ow: 341,
    oh: 256,
    steps: [
      { op: 0, factor: 1.2 },
      { op: 1, factor: 0.8 },
      { op: 2, factor: 1.25 },
    ],
  });
  out.push({
    w: 341,
    h: 256,
    c: 3,
    seed: 1001,
    box: { x: 200, y: 100, width: 141, height: 156 },
    ow: 224,
    oh: 224,
    steps: [
      { op: 2, factor: 0.75 },
      { op: 3, factor: 0.1 },
    ],
  });
  return out;
}

function pixels(k: Case): Uint8Array {
  const r = prng(k.seed + 7);
  return Uint8Array.from({ length: k.w * k.h * k.c }, () => Math.floor(r() * 256));
}

/** Each case's resize, colour jitter (1 and 3 channels) and ToTensor outputs, as bytes. */
export function outputs(list: Case[]): Uint8Array[] {
  return list.flatMap((k) => {
    const src = pixels(k);
    const res = [
      resizeBytes(src, k.w, k.h, k.c, k.box, k.ow, k.oh),
      new Uint8Array(bytesToFloat(src, k.w, k.h, k.c).buffer),
    ];
    if (k.c !== 4) res.push(jitterBytes(src, k.w, k.h, k.c, k.steps));
    return res;
  });
}
