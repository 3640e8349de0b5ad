// The preprocessing dml export states: generated from the test pipeline, and followed to the letter
// by a reference written from the statement alone (sharp + Pillow's bilinear in plain TypeScript),
// which must give the pipeline's pixels exactly, shrinking and enlarging, PNG and JPEG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { describePreprocessing } from '../../../src/ml/export/index.js';
import { datasetPipelines } from '../../../src/ml/run/datasets/pipelines.js';
import { datasetSpec } from '../../../src/ml/run/datasets/index.js';
import { Rng } from '../../../src/ml/random.js';
import { pattern } from '../data/helpers.js';
import { referencePreprocess } from './reference-preprocessing.js';

const folderTest = (resize: number, imageSize: number) =>
  datasetPipelines(datasetSpec('folder').transforms, { resize, imageSize }).test;

test('describePreprocessing states the resize rule, filter, crop, layout and normalisation', () => {
  const lines = describePreprocessing(folderTest(256, 224), {
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  });
  const text = lines.join('\n');
  assert.match(text, /^resize: the shorter side to 256, the longer to floor\(256 × longer \/ shorter\); Pillow's /m);
  assert.match(text, /Image\.resize\(BILINEAR\): a triangle filter widened by the shrink factor/);
  assert.match(text, /^crop: the centre 224×224 .*round\(\(W − 224\) \/ 2\)/m);
  assert.match(text, /^colour: RGB .*R, G, B$/m);
  assert.match(text, /^tensor: float32 = byte \/ 255/m);
  assert.match(text, /^layout: NCHW float32 \[N, 3, 224, 224\]/m);
  assert.match(text, /mean \[0\.485, 0\.456, 0\.406\], std \[0\.229, 0\.224, 0\.225\]; do not apply it yourself/);
  assert.match(text, /Compose\(\[Resize\(256\), CenterCrop\(\(224, 224\)\), ToTensor\(\)\]\)/);
  assert.doesNotMatch(text, /note: exported/);
  assert.match(
    describePreprocessing(folderTest(256, 224), { mean: [0], std: [1] }, 160).join('\n'),
    /note: exported for 160×160 inputs, while dml embed and dml serve crop 224×224/,
  );
});

test("the stated preprocessing, written with sharp and Pillow's resample, gives the pipeline's pixels", async () => {
  // Shrinking by various factors, enlarging, both orientations, odd margins (rounding of the crop).
  const cases: [number, number, number, number][] = [
    [48, 40, 20, 16],
    [40, 48, 20, 16],
    [97, 61, 32, 27],
    [30, 20, 48, 40],
    [64, 64, 24, 24],
  ];
  for (const [w, h, resize, crop] of cases) {
    const raw = sharp(pattern(w, h, w + h), { raw: { width: w, height: h, channels: 3 } });
    for (const bytes of [await raw.clone().png().toBuffer(), await raw.clone().jpeg({ quality: 85 }).toBuffer()]) {
      const ours = await folderTest(resize, crop).run(new Uint8Array(bytes), new Rng(0));
      const ref = await referencePreprocess(new Uint8Array(bytes), resize, crop);
      assert.equal(ours.data.length, ref.length);
      const differ = ref.findIndex((v, i) => v !== ours.data[i]);
      assert.equal(differ, -1, `${w}×${h} → ${resize}, crop ${crop}: first differing value at ${differ}`);
    }
  }
});
