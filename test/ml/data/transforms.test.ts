import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from '../../../src/ml/data/color.js';
import { hflip, pyRound, resizeBilinear, rotate } from '../../../src/ml/data/geometry.js';
import {
  decodeImage,
  floatToRaw,
  headerSize,
  rawToFloat,
  type FloatImage,
  type RawImage,
} from '../../../src/ml/data/image.js';
import { crop8, hflip8, resize8, rotate8 } from '../../../src/ml/data/geometry8.js';
import { colorJitter8 } from '../../../src/ml/data/color8.js';
import { resizeBytes, jitterBytes, bytesToFloat, decodeJpeg } from '../../../src/engine/image.js';
import sharp from 'sharp';
import { Pipeline } from '../../../src/ml/data/pipeline.js';
import { REFERENCE_CONFIGS, referencePipelines } from '../../../src/ml/data/presets.js';
import { Rng } from '../../../src/ml/random.js';
import {
  CenterCrop,
  ColorJitter,
  Normalize,
  RandomHorizontalFlip,
  RandomResizedCrop,
  RandomRotation,
  Resize,
  ToTensor,
  randomResizedCropBox,
  resizedSize,
  transformFromSpec,
} from '../../../src/ml/data/transforms.js';
import { tempDir, writeImage } from './helpers.js';
import { prng } from '../../prng.js';

const tmp = tempDir('transforms');
after(tmp.cleanup);

/** C×H×W image whose value encodes its coordinates, scaled into [0, 1]. */
function coords(C: number, H: number, W: number): FloatImage {
  const data = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) data[(c * H + y) * W + x] = (c * 10000 + y * 100 + x) / 40000;
  return { data, channels: C, height: H, width: W };
}

const at = (img: FloatImage, c: number, y: number, x: number): number =>
  img.data[(c * img.height + y) * img.width + x]!;

test('pyRound rounds halves to even, like Python', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(pyRound), [0, 2, 2, 0, -2, 2, 3]);
});

test('Resize: shorter side with the longer one truncated, exact sizes, no-op at the target size', () => {
  assert.deepEqual(resizedSize(500, 375, 256), { width: 341, height: 256 });
  assert.deepEqual(resizedSize(375, 500, 256), { width: 256, height: 341 });
  assert.deepEqual(resizedSize(1000, 257, 224, 300), { width: 300, height: 77 });
  assert.deepEqual(resizedSize(9, 9, [3, 5]), { width: 5, height: 3 });
  const img = coords(3, 8, 12);
  assert.equal(new Resize(8).apply(img), img);
  const r = new Resize([4, 6]).apply(img);
  assert.deepEqual([r.channels, r.height, r.width], [3, 4, 6]);
  assert.throws(() => new Resize(0), /Resize: size must be a positive integer/);
  assert.throws(() => new Resize([2, 3], { maxSize: 9 }), /maxSize only applies/);
  assert.throws(() => new Resize(10, { maxSize: 10 }), /must exceed size/);
});

test('resizeBilinear keeps constants constant and averages when shrinking by 2', () => {
  const flat: FloatImage = { data: new Float32Array(3 * 7 * 9).fill(0.3), channels: 3, height: 7, width: 9 };
  const r = resizeBilinear(flat, 4, 5);
  assert.ok(r.data.every((v) => Math.abs(v - 0.3) < 1e-6));
  // Shrinking 4 → 2 with the widened triangle: out[0] = (3·v0 + 3·v1 + v2) / 7 (PIL's taps, clipped at the edge).
  const row: FloatImage = { data: Float32Array.of(0, 0.1, 0.2, 0.3), channels: 1, height: 1, width: 4 };
  const h = resizeBilinear(row, 2, 1);
  assert.ok(Math.abs(h.data[0]! - (0.3 + 0.2) / 7) < 1e-6);
  assert.throws(() => resizeBilinear(row, 0, 1), /output size must be positive integers/);
  assert.throws(() => resizeBilinear(row, 1, 1, { x: 2, y: 0, width: 3, height: 1 }), /not inside the 4x1 image/);
});

test('CenterCrop: torchvision offsets (Python rounding), zero padding when the crop is larger', () => {
  const img = coords(1, 5, 7);
  const c = new CenterCrop([2, 2]).apply(img);
  // top = round(1.5) = 2, left = round(2.5) = 2
  assert.equal(at(c, 0, 0, 0), at(img, 0, 2, 2));
  const p = new CenterCrop([7, 9]).apply(img);
  assert.deepEqual([p.height, p.width], [7, 9]);
  assert.equal(at(p, 0, 0, 0), 0);
  assert.equal(at(p, 0, 1, 1), at(img, 0, 0, 0));
  assert.equal(at(p, 0, 6, 8), 0);
  // libvips cannot pad: that CenterCrop stays in the float path.
  assert.equal(new CenterCrop([7, 9]).sharpOp(7, 5), null);
  assert.deepEqual(new CenterCrop(2).sharpOp(7, 5), { op: 'extract', left: 2, top: 2, width: 2, height: 2 });
});

test(
  'RandomResizedCrop: boxes inside the image with area and ratio in range; the fallback is a clamped centre ' + 'crop',
  () => {
    const rng = new Rng(5);
    let fallbacks = 0;
    for (let i = 0; i < 2000; i++) {
      const b = randomResizedCropBox(200, 150, [0.16, 1], [3 / 4, 4 / 3], rng);
      assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= 200 && b.y + b.height <= 150, JSON.stringify(b));
      const area = (b.width * b.height) / (200 * 150);
      if (b.width === 200 && b.height === 150) fallbacks++;
      else
        assert.ok(
          area > 0.14 && area <= 1.02 && b.width / b.height > 0.7 && b.width / b.height < 1.4,
          JSON.stringify(b),
        );
    }
    assert.ok(fallbacks < 100);
    // Impossible scales always fall back.
    assert.deepEqual(randomResizedCropBox(100, 10, [5, 6], [3 / 4, 4 / 3], rng), {
      x: 43,
      y: 0,
      width: 13,
      height: 10,
    });
    assert.deepEqual(randomResizedCropBox(10, 100, [5, 6], [3 / 4, 4 / 3], rng), {
      x: 0,
      y: 43,
      width: 10,
      height: 13,
    });
    assert.deepEqual(randomResizedCropBox(50, 40, [5, 6], [3 / 4, 4 / 3], rng), { x: 0, y: 0, width: 50, height: 40 });
    const t = new RandomResizedCrop([24, 32], { scale: [0.3, 0.5] });
    const out = t.apply(coords(3, 60, 80), new Rng(1));
    assert.deepEqual([out.channels, out.height, out.width], [3, 24, 32]);
    assert.throws(() => new RandomResizedCrop(10, { scale: [0.9, 0.1] }), /scale must be \[min, max\]/);
  },
);

test('RandomHorizontalFlip flips with probability p', () => {
  const img = coords(2, 3, 4);
  assert.equal(new RandomHorizontalFlip(0).apply(img, new Rng(0)), img);
  assert.deepEqual(new RandomHorizontalFlip(1).apply(img, new Rng(0)), hflip(img));
  assert.equal(at(hflip(img), 1, 2, 0), at(img, 1, 2, 3));
  const rng = new Rng(3);
  let flips = 0;
  for (let i = 0; i < 1000; i++) if (new RandomHorizontalFlip().apply(img, rng) !== img) flips++;
  assert.ok(flips > 430 && flips < 570, `${flips} flips`);
});

test('ColorJitter: torchvision ranges, random order, parameter draws from the stream', () => {
  const none = new ColorJitter();
  assert.deepEqual(none.spec, { type: 'ColorJitter', brightness: null, contrast: null, saturation: null, hue: null });
  const cj = new ColorJitter(0.25, 0.25, 1.5, 0.1);
  assert.deepEqual(cj.spec.brightness, [0.75, 1.25]);
  assert.deepEqual(cj.spec.saturation, [0, 2.5]);
  assert.deepEqual(cj.spec.hue, [-0.1, 0.1]);
  assert.throws(() => new ColorJitter(0, 0, 0, 0.6), /hue must lie within \[-0.5, 0.5\]/);
  assert.throws(() => new ColorJitter(-1), /brightness must be non-negative/);

  const img = coords(3, 6, 6);
  const rng = new Rng(8);
  const got = cj.apply(img, rng.clone());
  // Spelled out: permutation, then b, c, s, h, then the ops in permuted order.
  const r = rng.clone();
  const order = r.permutation(4);
  const f = [r.uniform(0.75, 1.25), r.uniform(0.75, 1.25), r.uniform(0, 2.5), r.uniform(-0.1, 0.1)];
  let want = img;
  for (const k of order) want = [adjustBrightness, adjustContrast, adjustSaturation, adjustHue][k]!(want, f[k]!);
  assert.deepEqual(got, want);
});

test('colour ops: identities, clamping, hue rotation, grey images', () => {
  const img = coords(3, 4, 5);
  assert.deepEqual(adjustBrightness(img, 1), img);
  assert.ok(adjustBrightness(img, 100).data.every((v) => v <= 1));
  const c0 = adjustContrast(img, 0);
  assert.ok(
    c0.data.every((v) => Math.abs(v - c0.data[0]!) < 1e-6),
    'contrast 0 is the mean grey',
  );
  const s0 = adjustSaturation(img, 0);
  assert.ok(Math.abs(at(s0, 0, 1, 1) - at(s0, 2, 1, 1)) < 1e-6, 'saturation 0 is grey');
  const id = adjustHue(img, 0);
  assert.ok(id.data.every((v, i) => Math.abs(v - img.data[i]!) < 1e-6));
  const red: FloatImage = { data: Float32Array.of(1, 0, 0), channels: 3, height: 1, width: 1 };
  assert.deepEqual(
    [...adjustHue(red, 1 / 3).data].map((v) => +v.toFixed(5)),
    [0, 1, 0],
  );
  const grey: FloatImage = { data: Float32Array.of(0.2, 0.4), channels: 1, height: 1, width: 2 };
  assert.equal(adjustSaturation(grey, 3), grey);
  assert.equal(adjustHue(grey, 0.3), grey);
  assert.ok(Math.abs(adjustContrast(grey, 2).data[0]! - 0.1) < 1e-6);
});

test('RandomRotation rotates counter-clockwise about the centre, filling outside', () => {
  const img = coords(1, 4, 4);
  const r = rotate(img, 90);
  // Counter-clockwise: the top-right pixel comes to the top-left.
  assert.equal(at(r, 0, 0, 0), at(img, 0, 0, 3));
  assert.equal(at(r, 0, 3, 0), at(img, 0, 0, 0));
  const f = rotate(img, 45, 'nearest', [0.5]);
  assert.equal(at(f, 0, 0, 0), 0.5);
  const t = new RandomRotation(10);
  assert.deepEqual(t.spec.degrees, [-10, 10]);
  assert.deepEqual(t.apply(img, new Rng(4)), rotate(img, new Rng(4).uniform(-10, 10)));
});

test('Normalize and ToTensor', () => {
  const img = coords(3, 2, 2);
  const n = new Normalize([0.5, 0.5, 0.5], [0.25, 0.5, 1]).apply(img);
  assert.ok(Math.abs(at(n, 1, 1, 1) - (at(img, 1, 1, 1) - 0.5) / 0.5) < 1e-6);
  assert.throws(() => new Normalize([0.5], [0]), /std must be non-zero/);
  assert.throws(() => new Normalize([1, 2], [1, 2]).apply(img), /2 means for 3 channels/);
  assert.equal(new ToTensor().apply(img), img);
  const raw = { data: Uint8Array.of(255, 0, 128, 1, 2, 3), width: 2, height: 1, channels: 3 };
  const f = rawToFloat(raw);
  assert.deepEqual(
    [...f.data],
    [255, 1, 0, 2, 128, 3].map((v) => Math.fround(v / 255)),
  );
  assert.deepEqual(floatToRaw(f), raw);
});

test('applyRaw (reading decoded bytes) equals apply after ToTensor', () => {
  for (const C of [3, 1]) {
    const raw = {
      data: Uint8Array.from({ length: 37 * 23 * C }, (_, i) => (i * 97 + (i >> 3)) % 256),
      width: 37,
      height: 23,
      channels: C,
    };
    const asFloat = rawToFloat(raw);
    const ts = [
      new ColorJitter(0.4, 0.4, 0.4, 0.2),
      new ColorJitter(0, 0.5),
      new ColorJitter(),
      new RandomResizedCrop(16, { scale: [0.2, 1] }),
      new Resize(11),
      new Resize([23, 37]),
    ];
    for (const t of ts) {
      for (let seed = 0; seed < 4; seed++) {
        assert.deepEqual(
          t.applyRaw(raw, new Rng(seed)),
          t.apply(asFloat, new Rng(seed)),
          `${t.spec.type} C=${C} seed ${seed}`,
        );
      }
    }
  }
});

test('specs round-trip: a pipeline rebuilt from JSON gives identical outputs', async () => {
  const file = path.join(tmp.dir, 'a.jpg');
  await writeImage(file, 120, 90, { seed: 1 });
  const p = new Pipeline([
    new Resize(64),
    new RandomRotation(5, { interpolation: 'bilinear' }),
    new ColorJitter(0.3, 0.3, 0.3, 0.1),
    new RandomResizedCrop(48, { scale: [0.2, 1] }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
  ]);
  const q = Pipeline.fromSpec(JSON.parse(JSON.stringify(p.toSpec())));
  for (let s = 0; s < 3; s++) assert.deepEqual(await q.apply(file, new Rng(s)), await p.apply(file, new Rng(s)));
  for (const t of p.transforms) assert.deepEqual(transformFromSpec(t.spec).spec, t.spec);
  assert.throws(() => transformFromSpec({ type: 'Blur' } as never), /unknown transform spec/);
});

test("reference presets follow dml_cross_entropy's get_transforms", () => {
  const { train, test, config } = referencePipelines('cub');
  assert.deepEqual(
    train.transforms.map((t) => t.spec.type),
    ['Resize', 'ColorJitter', 'RandomResizedCrop', 'RandomHorizontalFlip', 'ToTensor'],
  );
  assert.deepEqual(
    test.transforms.map((t) => t.spec),
    [{ type: 'Resize', size: 256 }, { type: 'CenterCrop', size: [224, 224] }, { type: 'ToTensor' }],
  );
  assert.deepEqual(train.transforms[2]!.spec, {
    type: 'RandomResizedCrop',
    size: [224, 224],
    scale: [0.16, 1],
    ratio: [3 / 4, 4 / 3],
  });
  assert.deepEqual(config.colorJitter, [0.25, 0.25, 0.25, 0]);
  const cars = referencePipelines('cars');
  assert.deepEqual(cars.train.transforms[0]!.spec, { type: 'Resize', size: [256, 256] });
  assert.deepEqual(cars.train.transforms[1]!.spec, {
    type: 'ColorJitter',
    brightness: [0.7, 1.3],
    contrast: [0.7, 1.3],
    saturation: [0.7, 1.3],
    hue: [-0.1, 0.1],
  });
  assert.deepEqual((cars.train.transforms[2]!.spec as { ratio: number[] }).ratio, [1, 1]);
  assert.deepEqual(
    referencePipelines('sop').train.transforms.map((t) => t.spec.type),
    ['Resize', 'RandomResizedCrop', 'RandomHorizontalFlip', 'ToTensor'],
  );
  assert.deepEqual(
    referencePipelines('inshop').test.transforms.map((t) => t.spec.type),
    ['CenterCrop', 'ToTensor'],
  );
  assert.equal(REFERENCE_CONFIGS.inshop.resize, undefined);
  assert.deepEqual(referencePipelines('cub', { cropSize: 96 }).test.transforms[1]!.spec, {
    type: 'CenterCrop',
    size: [96, 96],
  });
});

test('Pipeline: decoding errors name the file; pixel limit; greyscale; fused and float paths agree', async () => {
  const good = path.join(tmp.dir, 'p.jpg');
  await writeImage(good, 300, 200, { seed: 2 });
  const bad = path.join(tmp.dir, 'bad.jpg');
  writeFileSync(bad, 'not an image');
  const { test: tp } = referencePipelines('cub', { resize: 128, cropSize: 112 });
  await assert.rejects(tp.apply(bad, new Rng(0)), (e: Error) => e.message.startsWith(`${bad}: cannot decode image:`));
  await assert.rejects(
    tp.apply(path.join(tmp.dir, 'missing.jpg'), new Rng(0)),
    /missing\.jpg: cannot read image: no such file/,
  );
  const small = new Pipeline(tp.transforms, { maxPixels: 1000 });
  await assert.rejects(small.apply(good, new Rng(0)), /p\.jpg: cannot decode image: .*pixel limit/);

  const gray = new Pipeline(tp.transforms, { channels: 1 });
  const g = await gray.run(good, new Rng(0));
  assert.deepEqual([g.channels, g.height, g.width], [1, 112, 112]);

  const exact = await tp.run(good, new Rng(0));
  const fused = await new Pipeline(tp.transforms, { fuseDecode: true }).run(good, new Rng(0));
  const float = await new Pipeline(tp.transforms, { imageType: 'tensor' }).run(good, new Rng(0));
  for (const [name, other] of [
    ['fused', fused],
    ['float', float],
  ] as const) {
    let sum = 0;
    for (let i = 0; i < exact.data.length; i++) sum += Math.abs(other.data[i]! - exact.data[i]!);
    assert.ok(sum / exact.data.length < 2 / 255, `mean |${name} - PIL path| = ${(sum / exact.data.length) * 255}/255`);
  }
  // Bytes in, same result as the path.
  const { readFileSync } = await import('node:fs');
  assert.deepEqual(await tp.apply(readFileSync(good), new Rng(0)), exact.data);
  assert.throws(() => new Pipeline([], { imageType: 'float' as 'pil' }), /imageType must be 'pil' or 'tensor'/);
  assert.throws(() => new Pipeline([], { channels: 2 as 1 }), /channels must be 1 or 3/);
});

test('headerSize reads JPEG and PNG sizes without libvips, and declines what it cannot parse', async () => {
  const px = Buffer.alloc(37 * 29 * 3, 90);
  const raw = { raw: { width: 37, height: 29, channels: 3 as const } };
  for (const b of [
    await sharp(px, raw).jpeg().toBuffer(),
    await sharp(px, raw)
      .jpeg({ progressive: true })
      .withMetadata({ exif: { IFD0: { Copyright: 'x'.repeat(200) } } })
      .toBuffer(),
    await sharp(px, raw).png().toBuffer(),
  ])
    assert.deepEqual(headerSize(b), { width: 37, height: 29 });
  const jpg = await sharp(px, raw).jpeg().toBuffer();
  assert.equal(headerSize(await sharp(px, raw).webp().toBuffer()), null);
  assert.equal(headerSize(jpg.subarray(0, 20)), null);
  assert.equal(headerSize(Buffer.from('not an image')), null);
  assert.equal(headerSize(new Uint8Array(0)), null);
});

/** An HWC byte image whose values encode position and channel. */
function bytesImage(C: number, H: number, W: number): RawImage {
  const data = new Uint8Array(H * W * C);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) & 255;
  return { data, width: W, height: H, channels: C };
}

test('8-bit flips and crops agree with the float ones, for 1, 3 and 4 channels', () => {
  for (const C of [1, 3, 4]) {
    const img = bytesImage(C, 5, 7);
    assert.deepEqual([...rawToFloat(hflip8(img)).data], [...hflip(rawToFloat(img)).data], `hflip, ${C} channels`);
    const c = crop8(img, { x: -1, y: 2, width: 4, height: 5 });
    assert.deepEqual([c.width, c.height, c.channels], [4, 5, C]);
    assert.equal(c.data[0], 0); // padding left of the image
    assert.equal(c.data[C], img.data[(2 * 7 + 0) * C]); // (x 1, y 0) of the crop is pixel (0, 2)
    assert.ok(c.data.subarray(3 * 4 * C).every((v) => v === 0)); // rows below the image
  }
});

test('a resize window equals resizing then cropping, whichever axes are resampled', () => {
  const r = prng(5);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  for (let i = 0; i < 60; i++) {
    const w = int(1, 40),
      h = int(1, 30),
      c = [1, 3, 4][i % 3]!;
    const img: RawImage = {
      data: Uint8Array.from({ length: w * h * c }, () => int(0, 255)),
      width: w,
      height: h,
      channels: c,
    };
    const bx = int(0, w - 1),
      by = int(0, h - 1);
    const box = { x: bx, y: by, width: int(1, w - bx), height: int(1, h - by) };
    // Some cases keep an axis at the box's size, which Pillow does not resample: a plain crop there.
    const ow = i % 4 === 1 ? box.width : int(1, 50),
      oh = i % 4 === 2 ? box.height : int(1, 50);
    const wx = int(0, ow - 1),
      wy = int(0, oh - 1);
    const win = { x: wx, y: wy, width: int(1, ow - wx), height: int(1, oh - wy) };
    const want = crop8(resize8(img, ow, oh, box), win);
    const got = resize8(img, ow, oh, box, win);
    assert.deepEqual([got.width, got.height], [win.width, win.height]);
    assert.deepEqual(
      Buffer.from(got.data),
      Buffer.from(want.data),
      `case ${i}: ${w}x${h}x${c} box ${JSON.stringify(box)} -> ${ow}x${oh} window ${JSON.stringify(win)}`,
    );
  }
  const img = bytesImage(3, 4, 6);
  assert.throws(
    () => resize8(img, 3, 3, undefined, { x: 1, y: 0, width: 3, height: 3 }),
    /resize window: box .* is not inside the 3x3 image/,
  );
  assert.throws(
    () =>
      resizeBytes(img.data, 6, 4, 3, { x: 0, y: 0, width: 6, height: 4 }, 3, 3, { x: 0, y: 2, width: 3, height: 2 }),
    /window is not inside the output/,
  );
});

test('8-bit kernels reject bad arguments with errors, never touching memory out of range', () => {
  const img = bytesImage(3, 4, 6);
  assert.throws(() => resize8(img, 3, 3, { x: 4, y: 0, width: 3, height: 2 }), /box .* is not inside the 6x4 image/);
  assert.throws(() => resize8(img, 0, 3), /output size must be positive integers/);
  assert.throws(() => resize8({ ...img, data: img.data.subarray(1) }, 3, 3), /71 bytes for a 6x4x3 image/);
  assert.throws(
    () => resizeBytes(img.data, 6, 5, 3, { x: 0, y: 0, width: 6, height: 4 }, 2, 2),
    /src length is not width \* height \* channels/,
  );
  // Absurd sizes are refused before anything is allocated (they used to end the process).
  assert.throws(
    () => resizeBytes(img.data, 6, 4, 3, { x: 0, y: 0, width: 6, height: 4 }, 2 ** 30, 2 ** 30),
    /output size 1073741824x1073741824 exceeds 65536 pixels per side/,
  );
  assert.throws(
    () => resizeBytes(img.data, 6, 4, 3, { x: 0, y: 0, width: 6, height: 4 }, 40000, 40000),
    /needs more than 1024 MiB/,
  );
  assert.throws(
    () => resizeBytes(img.data, 6, 4, 3, { x: 0, y: 0, width: 7, height: 4 }, 2, 2),
    /box is not inside the image/,
  );
  assert.throws(
    () => resizeBytes(img.data, 6, 4, 3, { x: -1, y: 0, width: 2, height: 2 }, 2, 2),
    /boxX must be a non-negative integer/,
  );
  assert.throws(() => jitterBytes(img.data, 6, 4, 3, [{ op: 5 as 0, factor: 1 }]), /ops must be 0 .*3 \(hue\)/);
  assert.throws(() => jitterBytes(img.data, 6, 4, 2, []), /channels must be 1 or 3/);
  assert.throws(() => colorJitter8(img, [{ op: 3, factor: 0.7 }]), /factor must be in \[-0.5, 0.5\]/);
  assert.throws(() => bytesToFloat(img.data, 5, 4, 3), /src length/);
  assert.throws(() => rotate8({ ...img, data: img.data.subarray(3) }, 10), /69 bytes for a 6x4x3 image/);
  assert.throws(() => rotate8(img, Number.NaN), /degrees must be finite/);
  assert.deepEqual([...rotate8(img, 360).data], [...img.data], 'a full turn is the identity');
  // Identity factors and a same-size resize give the input back (not hue 0: PIL's 8-bit HSV round trip is lossy).
  assert.deepEqual(
    [
      ...colorJitter8(img, [
        { op: 0, factor: 1 },
        { op: 2, factor: 1 },
        { op: 1, factor: 1 },
      ]).data,
    ],
    [...img.data],
  );
  assert.deepEqual([...resize8(img, 6, 4).data], [...img.data]);
  assert.deepEqual(
    [...resize8(img, 2, 3, { x: 1, y: 1, width: 2, height: 3 }).data],
    [...crop8(img, { x: 1, y: 1, width: 2, height: 3 }).data],
  );
});

test('the PIL path draws the same random numbers as the float path, so both see the same crops and flips', async () => {
  const file = path.join(tmp.dir, 'draws.png');
  await writeImage(file, 90, 70, { seed: 9, format: 'png' });
  const { train } = referencePipelines('cars', { resize: [64, 64], cropSize: 48 });
  const float = new Pipeline(train.transforms, { imageType: 'tensor' });
  for (let seed = 0; seed < 4; seed++) {
    const a = new Rng(seed),
      b = new Rng(seed);
    const x = await train.run(file, a),
      y = await float.run(file, b);
    assert.equal(a.nextUint32(), b.nextUint32(), `seed ${seed}: both paths consumed the same draws`);
    let sum = 0;
    for (let i = 0; i < x.data.length; i++) sum += Math.abs(x.data[i]! - y.data[i]!);
    // Same geometry; the colours differ only by PIL's truncation to bytes after each step.
    assert.ok(sum / x.data.length < 3 / 255, `seed ${seed}: mean difference ${(255 * sum) / x.data.length}/255`);
  }
});

test(
  'the libjpeg decoder: truncated and corrupt files are errors, CMYK goes to libvips, grey becomes ' + 'RGB',
  async () => {
    const W = 64,
      H = 48;
    const px = Buffer.alloc(W * H * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 13) & 255;
    const raw = { raw: { width: W, height: H, channels: 3 as const } };
    const jpg = await sharp(px, raw).jpeg({ quality: 90 }).toBuffer();
    const ok = decodeJpeg(jpg)!;
    assert.deepEqual([ok.width, ok.height, ok.data.length], [W, H, W * H * 3]);
    // Same pixels as libvips up to IDCT rounding (sharp's bundled decoder is mozjpeg's).
    const viaVips = await sharp(jpg).raw().toBuffer();
    assert.ok(ok.data.every((v, i) => Math.abs(v - viaVips[i]!) <= 3));

    const cut = jpg.subarray(0, Math.floor(jpg.length * 0.6));
    assert.throws(() => decodeJpeg(cut), /premature end of JPEG file/i);
    await assert.rejects(decodeImage(cut), /premature end/i);
    assert.deepEqual(decodeJpeg(cut, { failOn: 'none' })!.width, W); // the rest is filled in, as libjpeg does
    assert.throws(() => decodeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 3])), Error);
    assert.throws(() => decodeJpeg(jpg, { maxPixels: 100 }), /exceeds pixel limit/);
    assert.throws(() => decodeJpeg(jpg, { failOn: 'loud' as 'none' }), /failOn must be/);

    const cmyk = await sharp(px, raw).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal(decodeJpeg(cmyk), null);
    const fromVips = await decodeImage(cmyk);
    assert.deepEqual([fromVips.width, fromVips.height, fromVips.channels], [W, H, 3]);

    const grey = await sharp(px, raw).toColourspace('b-w').jpeg().toBuffer();
    const g = decodeJpeg(grey)!;
    assert.ok(
      g.data.every((v, i) => v === g.data[i - (i % 3)]),
      'grey JPEG decodes to R = G = B',
    );
    const luma = await decodeImage(grey, { channels: 1 });
    assert.deepEqual(
      [...luma.data],
      Array.from({ length: W * H }, (_, i) => g.data[3 * i]!),
    );
  },
);
