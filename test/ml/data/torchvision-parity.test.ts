// The transforms against torchvision 0.14 + PIL, run by Debian's python3 in the same test (it fails
// when python3-torchvision is missing: `npm test` installs it through scripts/setup.sh --tests). Deterministic
// operations are compared pixel by
// pixel; random ones share torchvision's sampling code paths, checked through their fallbacks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { decodeImage, rawToFloat, type FloatImage } from '../../../src/ml/data/image.js';
import { crop, hflip, resizeBilinear, rotate } from '../../../src/ml/data/geometry.js';
import { crop8, hflip8, resize8, rotate8 } from '../../../src/ml/data/geometry8.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from '../../../src/ml/data/color.js';
import {
  adjustBrightness8,
  adjustContrast8,
  adjustHue8,
  adjustSaturation8,
  colorJitter8,
} from '../../../src/ml/data/color8.js';
import type { RawImage } from '../../../src/ml/data/image.js';
import { CenterCrop, Resize, randomResizedCropBox, resizedSize } from '../../../src/ml/data/transforms.js';
import { Pipeline } from '../../../src/ml/data/pipeline.js';
import { referencePipelines } from '../../../src/ml/data/presets.js';
import { Rng } from '../../../src/ml/random.js';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { tempDir, writeImage } from './helpers.js';

const PY = String.raw`
import sys, json, base64
import torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
IM = T.InterpolationMode
spec = json.load(sys.stdin)
out = {}
for case in spec['cases']:
    x = Image.open(case['image'])
    x = x.convert(case.get('mode', 'RGB'))
    for op in case['ops']:
        k = op[0]
        if k == 'resize': x = F.resize(x, op[1], interpolation=IM.BILINEAR)
        elif k == 'resized_crop': x = F.resized_crop(x, op[1], op[2], op[3], op[4], op[5], interpolation=IM.BILINEAR)
        elif k == 'center_crop': x = F.center_crop(x, op[1])
        elif k == 'hflip': x = F.hflip(x)
        elif k == 'rotate': x = F.rotate(x, op[1], interpolation=IM.NEAREST if op[2] == 'nearest' else IM.BILINEAR)
        elif k == 'to_tensor': x = F.to_tensor(x)
        elif k == 'brightness': x = F.adjust_brightness(x, op[1])
        elif k == 'contrast': x = F.adjust_contrast(x, op[1])
        elif k == 'saturation': x = F.adjust_saturation(x, op[1])
        elif k == 'hue': x = F.adjust_hue(x, op[1])
        else: raise ValueError(k)
    t = x if torch.is_tensor(x) else F.to_tensor(x)
    out[case['name']] = {
        'shape': list(t.shape),
        'b64': base64.b64encode(t.contiguous().numpy().astype('<f4').tobytes()).decode(),
    }
out['sizes'] = [F._compute_resized_output_size((h, w), [s], m) for (w, h, s, m) in spec['sizes']]
out['rrc'] = [
    list(T.RandomResizedCrop.get_params(torch.zeros(1, h, w), scale=[5.0, 6.0], ratio=r))
    for (w, h, r) in spec['rrc']
]
print(json.dumps(out))
`;

interface PyCase {
  name: string;
  image: string;
  mode?: 'RGB' | 'L';
  ops: Array<[string, ...unknown[]]>;
}

interface PyResult {
  [name: string]: { shape: number[]; b64: string };
}

let available = false;
let skipReason = 'python3-torchvision not installed';
const tmp = tempDir('parity');
after(tmp.cleanup);
const png = path.join(tmp.dir, 'odd.png');
const jpg = path.join(tmp.dir, 'photo.jpg');
const big = path.join(tmp.dir, 'big.png');
// Every colour with channels in 0, 3, ..., 255 (86^3 pixels): adjust_hue's float paths, all sectors and greys.
const cube = path.join(tmp.dir, 'cube.png');
const square = path.join(tmp.dir, 'square.png');
const sizes: Array<[number, number, number, number | null]> = [
  [500, 375, 256, null],
  [375, 500, 256, null],
  [333, 333, 256, null],
  [257, 1000, 256, null],
  [1000, 257, 224, 300],
  [31, 17, 12, null],
];
const rrcShapes: Array<[number, number, [number, number]]> = [
  [100, 10, [0.75, 4 / 3]],
  [10, 100, [0.75, 4 / 3]],
  [50, 40, [0.75, 4 / 3]],
  [64, 48, [1, 1]],
  [37, 90, [1, 1]],
];
let py: PyResult & { sizes?: number[][]; rrc?: number[][] } = {};
let cases: PyCase[] = [];

before(async () => {
  await writeImage(png, 37, 29, { seed: 3, format: 'png' });
  await writeImage(jpg, 500, 375, { seed: 4, format: 'jpeg' });
  await writeImage(big, 160, 120, { seed: 5, format: 'png' });
  await writeImage(square, 48, 48, { seed: 6, format: 'png' });
  const steps = 86,
    cubePixels = Buffer.alloc(steps ** 3 * 3);
  for (let i = 0; i < steps ** 3; i++) {
    cubePixels[3 * i] = 3 * Math.floor(i / (steps * steps));
    cubePixels[3 * i + 1] = 3 * (Math.floor(i / steps) % steps);
    cubePixels[3 * i + 2] = 3 * (i % steps);
  }
  await sharp(cubePixels, { raw: { width: steps * steps, height: steps, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toFile(cube);
  cases = [
    { name: 'decode_png', image: png, ops: [] },
    { name: 'decode_jpg', image: jpg, ops: [] },
    { name: 'gray', image: png, mode: 'L', ops: [] },
    { name: 'down', image: png, ops: [['resize', 16]] },
    { name: 'down_fixed', image: png, ops: [['resize', [11, 23]]] },
    { name: 'up', image: png, ops: [['resize', [50, 41]]] },
    { name: 'resized_crop', image: png, ops: [['resized_crop', 3, 5, 17, 21, [13, 13]]] },
    { name: 'resized_crop_up', image: png, ops: [['resized_crop', 1, 2, 9, 7, [20, 24]]] },
    { name: 'center_odd', image: png, ops: [['center_crop', [20, 14]]] },
    { name: 'center_pad', image: png, ops: [['center_crop', [40, 44]]] },
    { name: 'hflip', image: png, ops: [['hflip']] },
    { name: 'rot_nearest', image: png, ops: [['rotate', 17.3, 'nearest']] },
    { name: 'rot_bilinear', image: png, ops: [['rotate', -33, 'bilinear']] },
    { name: 'rot_90', image: png, ops: [['rotate', 90, 'nearest']] },
    { name: 'brightness', image: png, ops: [['to_tensor'], ['brightness', 1.7]] },
    { name: 'contrast', image: png, ops: [['to_tensor'], ['contrast', 0.6]] },
    { name: 'saturation', image: png, ops: [['to_tensor'], ['saturation', 1.8]] },
    { name: 'hue', image: png, ops: [['to_tensor'], ['hue', 0.23]] },
    { name: 'hue_neg', image: png, ops: [['to_tensor'], ['hue', -0.41]] },
    {
      name: 'test_transform',
      image: jpg,
      ops: [
        ['resize', 256],
        ['center_crop', 224],
      ],
    },
    // On PIL images (no to_tensor first): what the reference's pipeline computes.
    { name: 'pil_brightness_up', image: big, ops: [['brightness', 1.7]] },
    { name: 'pil_brightness_down', image: big, ops: [['brightness', 0.55]] },
    { name: 'pil_contrast_down', image: big, ops: [['contrast', 0.6]] },
    { name: 'pil_contrast_up', image: big, ops: [['contrast', 1.45]] },
    { name: 'pil_saturation_up', image: big, ops: [['saturation', 1.8]] },
    { name: 'pil_saturation_down', image: big, ops: [['saturation', 0.3]] },
    { name: 'pil_hue', image: big, ops: [['hue', 0.23]] },
    { name: 'pil_hue_neg', image: big, ops: [['hue', -0.41]] },
    { name: 'pil_hue_small', image: big, ops: [['hue', 0.02]] },
    { name: 'pil_rot_nearest', image: big, ops: [['rotate', 17.3, 'nearest']] },
    { name: 'pil_rot_nearest_neg', image: big, ops: [['rotate', -128.6, 'nearest']] },
    { name: 'pil_rot_bilinear', image: big, ops: [['rotate', -33, 'bilinear']] },
    { name: 'pil_rot_bilinear_wide', image: big, ops: [['rotate', 251.25, 'bilinear']] },
    { name: 'pil_rot_90', image: big, ops: [['rotate', 90, 'nearest']] },
    { name: 'pil_rot_180', image: big, ops: [['rotate', -180, 'bilinear']] },
    { name: 'pil_rot_270_square', image: square, ops: [['rotate', 270, 'bilinear']] },
    { name: 'pil_gray_rot', image: big, mode: 'L', ops: [['rotate', 23.5, 'bilinear']] },
    { name: 'pil_hue_cube', image: cube, ops: [['hue', 0.07]] },
    { name: 'pil_hue_cube_neg', image: cube, ops: [['hue', -0.41]] },
    {
      name: 'pil_chain',
      image: big,
      ops: [
        ['brightness', 1.2],
        ['contrast', 0.8],
        ['saturation', 1.3],
        ['hue', 0.1],
      ],
    },
    {
      name: 'pil_chain2',
      image: big,
      ops: [
        ['contrast', 1.3],
        ['brightness', 0.9],
        ['hue', -0.05],
        ['saturation', 0.7],
        ['contrast', 0.75],
      ],
    },
    {
      name: 'pil_gray_jitter',
      image: big,
      mode: 'L',
      ops: [
        ['brightness', 1.3],
        ['contrast', 0.7],
        ['saturation', 1.5],
        ['hue', 0.2],
      ],
    },
    { name: 'pil_big_down', image: big, ops: [['resize', 37]] },
    { name: 'pil_big_rrc', image: big, ops: [['resized_crop', 7, 11, 93, 131, [64, 64]]] },
    { name: 'pil_big_rrc_tall', image: big, ops: [['resized_crop', 0, 3, 120, 40, [50, 30]]] },
    { name: 'pil_gray_rrc', image: big, mode: 'L', ops: [['resized_crop', 7, 11, 93, 131, [20, 24]]] },
  ];
  const r = spawnSync('/usr/bin/python3', ['-c', PY], {
    input: JSON.stringify({ cases, sizes, rrc: rrcShapes }),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error || (r.status !== 0 && /ModuleNotFoundError|ImportError/.test(r.stderr))) {
    skipReason = `no torchvision: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
    return;
  }
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  py = JSON.parse(r.stdout) as typeof py;
  available = true;
});

function expected(name: string): FloatImage {
  const e = py[name];
  if (!e) throw new Error(`no python result for ${name}`);
  const b = Buffer.from(e.b64, 'base64');
  const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return { data, channels: e.shape[0]!, height: e.shape[1]!, width: e.shape[2]! };
}

function diff(a: FloatImage, b: FloatImage, name: string): { max: number; mean: number; over: number } {
  assert.deepEqual([a.channels, a.height, a.width], [b.channels, b.height, b.width], `${name}: shape`);
  let max = 0,
    sum = 0,
    over = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    max = Math.max(max, d);
    sum += d;
    if (d > 1.5 / 255) over++;
  }
  return { max, mean: sum / a.data.length, over: over / a.data.length };
}

async function load(file: string, channels: 1 | 3 = 3): Promise<FloatImage> {
  return rawToFloat(await decodeImage(readFileSync(file), { channels }));
}

test('decoding and greyscale conversion match PIL', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  assert.equal(diff(await load(png), expected('decode_png'), 'png').max, 0);
  assert.equal(diff(await load(png, 1), expected('gray'), 'gray').max, 0);
  // The addon decodes with Debian's libjpeg-turbo and Pillow's settings, as Debian's Pillow does.
  assert.equal(diff(await load(jpg), expected('decode_jpg'), 'jpg').max, 0);
});

test('resize and resized crop match PIL bilinear (antialiased) within uint8 rounding', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  const img = await load(png);
  const check = (name: string, got: FloatImage): void => {
    const d = diff(got, expected(name), name);
    // PIL rounds to uint8 between its two passes and at the end: at most one level off.
    assert.ok(d.max <= 1.01 / 255, `${name}: ${JSON.stringify(d)}`);
  };
  check('down', new Resize(16).apply(img));
  check('down_fixed', new Resize([11, 23]).apply(img));
  check('up', new Resize([50, 41]).apply(img));
  check('resized_crop', resizeBilinear(img, 13, 13, { x: 5, y: 3, width: 21, height: 17 }));
  check('resized_crop_up', resizeBilinear(img, 24, 20, { x: 2, y: 1, width: 7, height: 9 }));
});

test('crops, flips and rotations match PIL', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  const img = await load(png);
  assert.equal(diff(new CenterCrop([20, 14]).apply(img), expected('center_odd'), 'center_odd').max, 0);
  assert.equal(diff(new CenterCrop([40, 44]).apply(img), expected('center_pad'), 'center_pad').max, 0);
  assert.equal(diff(hflip(img), expected('hflip'), 'hflip').max, 0);
  assert.equal(diff(rotate(img, 90), expected('rot_90'), 'rot_90').max, 0);
  // PIL's nearest affine uses fixed-point coordinates: a rare pixel on a rounding boundary may differ.
  const rn = diff(rotate(img, 17.3, 'nearest'), expected('rot_nearest'), 'rot_nearest');
  assert.ok(rn.over < 0.01, JSON.stringify(rn));
  const rb = diff(rotate(img, -33, 'bilinear'), expected('rot_bilinear'), 'rot_bilinear');
  assert.ok(rb.max <= 1.01 / 255, JSON.stringify(rb));
  assert.ok(crop(img, { x: 0, y: 0, width: 1, height: 1 }).data.length === 3);
});

test('colour adjustments match torchvision on float tensors', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  const img = await load(png);
  const check = (name: string, got: FloatImage): void => {
    const d = diff(got, expected(name), name);
    assert.ok(d.max < 1e-5, `${name}: ${JSON.stringify(d)}`);
  };
  check('brightness', adjustBrightness(img, 1.7));
  check('contrast', adjustContrast(img, 0.6));
  check('saturation', adjustSaturation(img, 1.8));
  check('hue', adjustHue(img, 0.23));
  check('hue_neg', adjustHue(img, -0.41));
});

test("Resize sizes and RandomResizedCrop fallback boxes equal torchvision's", () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  sizes.forEach(([w, h, s, m], i) => {
    const o = resizedSize(w, h, s, m ?? undefined);
    assert.deepEqual([o.height, o.width], py.sizes![i], `size of ${w}x${h} -> ${s}`);
  });
  rrcShapes.forEach(([w, h, ratio], i) => {
    // An impossible scale exhausts the 10 attempts, so torchvision and we both take the fallback.
    const b = randomResizedCropBox(w, h, [5, 6], ratio, new Rng(i));
    assert.deepEqual([b.y, b.x, b.height, b.width], py.rrc![i], `fallback of ${w}x${h}`);
  });
});

test(
  "the reference test transform on a JPEG gives torchvision + PIL's pixels exactly, and close ones when fused " +
    'into libvips',
  async () => {
    if (!available)
      assert.fail(
        `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
          `scripts/setup.sh --tests)`,
      );
    const { test: exact } = referencePipelines('cub');
    const fused = new Pipeline(exact.transforms, { fuseDecode: true });
    const ref = expected('test_transform');
    assert.equal(diff(await exact.run(jpg, new Rng(0)), ref, 'unfused').max, 0);
    const f = diff(await fused.run(jpg, new Rng(0)), ref, 'fused');
    assert.ok(f.mean < 1.5 / 255, `fused: ${JSON.stringify(f)}`);
  },
);

async function loadBytes(file: string, channels: 1 | 3 = 3): Promise<RawImage> {
  return decodeImage(readFileSync(file), { channels });
}

test('the PIL path (8-bit transforms) equals torchvision on PIL images bit for bit', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  const small = await loadBytes(png),
    b = await loadBytes(big),
    g = await loadBytes(big, 1);
  const exact = (name: string, got: RawImage): void => {
    const d = diff(rawToFloat(got), expected(name), name);
    assert.equal(d.max, 0, `${name}: ${JSON.stringify(d)}`);
  };
  exact('down', new Resize(16).applyBytes(small));
  exact('down_fixed', resize8(small, 23, 11));
  exact('up', resize8(small, 41, 50));
  exact('resized_crop', resize8(small, 13, 13, { x: 5, y: 3, width: 21, height: 17 }));
  exact('resized_crop_up', resize8(small, 24, 20, { x: 2, y: 1, width: 7, height: 9 }));
  exact('pil_big_down', new Resize(37).applyBytes(b));
  exact('pil_big_rrc', resize8(b, 64, 64, { x: 11, y: 7, width: 131, height: 93 }));
  exact('pil_big_rrc_tall', resize8(b, 30, 50, { x: 3, y: 0, width: 40, height: 120 }));
  exact('pil_gray_rrc', resize8(g, 24, 20, { x: 11, y: 7, width: 131, height: 93 }));
  exact('center_odd', new CenterCrop([20, 14]).applyBytes(small));
  exact('center_pad', new CenterCrop([40, 44]).applyBytes(small));
  exact('hflip', hflip8(small));
  assert.deepEqual(
    [...crop8(small, { x: 36, y: 28, width: 2, height: 1 }).data],
    [...small.data.subarray(-3), 0, 0, 0],
  );
  exact('pil_brightness_up', adjustBrightness8(b, 1.7));
  exact('pil_brightness_down', adjustBrightness8(b, 0.55));
  exact('pil_contrast_down', adjustContrast8(b, 0.6));
  exact('pil_contrast_up', adjustContrast8(b, 1.45));
  exact('pil_saturation_up', adjustSaturation8(b, 1.8));
  exact('pil_saturation_down', adjustSaturation8(b, 0.3));
  exact('pil_hue', adjustHue8(b, 0.23));
  exact('pil_hue_neg', adjustHue8(b, -0.41));
  exact('pil_hue_small', adjustHue8(b, 0.02));
  exact('pil_rot_nearest', rotate8(b, 17.3, 'nearest'));
  exact('pil_rot_nearest_neg', rotate8(b, -128.6, 'nearest'));
  exact('pil_rot_bilinear', rotate8(b, -33, 'bilinear'));
  exact('pil_rot_bilinear_wide', rotate8(b, 251.25, 'bilinear'));
  exact('pil_rot_90', rotate8(b, 90, 'nearest'));
  exact('pil_rot_180', rotate8(b, -180, 'bilinear'));
  exact('pil_rot_270_square', rotate8(await loadBytes(square), 270, 'bilinear'));
  exact('pil_gray_rot', rotate8(g, 23.5, 'bilinear'));
  const colours = await loadBytes(cube);
  exact('pil_hue_cube', adjustHue8(colours, 0.07));
  exact('pil_hue_cube_neg', adjustHue8(colours, -0.41));
  exact(
    'pil_chain',
    colorJitter8(b, [
      { op: 0, factor: 1.2 },
      { op: 1, factor: 0.8 },
      { op: 2, factor: 1.3 },
      { op: 3, factor: 0.1 },
    ]),
  );
  exact(
    'pil_chain2',
    colorJitter8(b, [
      { op: 1, factor: 1.3 },
      { op: 0, factor: 0.9 },
      { op: 3, factor: -0.05 },
      { op: 2, factor: 0.7 },
      { op: 1, factor: 0.75 },
    ]),
  );
  exact(
    'pil_gray_jitter',
    colorJitter8(g, [
      { op: 0, factor: 1.3 },
      { op: 1, factor: 0.7 },
      { op: 2, factor: 1.5 },
      { op: 3, factor: 0.2 },
    ]),
  );
});

test('a whole PIL-path pipeline without libvips fusion equals torchvision + PIL on a PNG', async () => {
  if (!available)
    assert.fail(
      `torchvision comparison unavailable: ${skipReason} (npm test installs python3-torchvision through ` +
        `scripts/setup.sh --tests)`,
    );
  // Resize → CenterCrop with every step on bytes: the same pixels as the reference's test transform.
  const p = new Pipeline([new Resize([11, 23]), new CenterCrop([8, 20])], { fuseDecode: false });
  const viaSteps = resize8(await loadBytes(png), 23, 11);
  const want = new CenterCrop([8, 20]).applyBytes(viaSteps);
  const got = await p.run(png, new Rng(0));
  assert.deepEqual([...got.data], [...rawToFloat(want).data]);
});
