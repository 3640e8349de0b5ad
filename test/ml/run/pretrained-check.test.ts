// model.pretrained is sniffed by content and its shapes are read in the model's terms: an image, a
// web page or an ONNX file is named as such; weights of another arch or channel count say which.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { saveTensors, zeros } from '../../../src/engine/index.js';
import { sniffFile } from '../../../src/ml/run/file-kind.js';
import {
  archMismatch,
  assertWeightsFile,
  channelMismatch,
  checkPretrained,
  weightsArch,
} from '../../../src/ml/run/pretrained-check.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dml-sniff-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => path.join(dir, name);

/** The keys and shapes of a torchvision ResNet's backbone (no tensors): `block` basic or bottleneck. */
function resnetShapes(blocks: number[], bottleneck: boolean, inChannels = 3, groups = 1, width = 64) {
  const m = new Map<string, { shape: number[] }>([['conv1.weight', { shape: [64, inChannels, 7, 7] }]]);
  blocks.forEach((n, l) => {
    for (let b = 0; b < n; b++) {
      const w = width * 2 ** l;
      m.set(`layer${l + 1}.${b}.conv1.weight`, { shape: [w, 64, 1, 1] });
      m.set(`layer${l + 1}.${b}.conv2.weight`, { shape: [w, w / groups, 3, 3] });
      if (bottleneck) m.set(`layer${l + 1}.${b}.conv3.weight`, { shape: [w * 4, w, 1, 1] });
    }
  });
  return m;
}

test('files are named by what they are, not by their extension', async () => {
  await sharp(Buffer.alloc(12), { raw: { width: 2, height: 2, channels: 3 } })
    .png()
    .toFile(at('resnet50.pth'));
  await sharp(Buffer.alloc(12), { raw: { width: 2, height: 2, channels: 3 } })
    .jpeg()
    .toFile(at('w.safetensors'));
  writeFileSync(at('page.pth'), '<!DOCTYPE html><html><body>Not found</body></html>');
  writeFileSync(at('lfs.pth'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n');
  writeFileSync(at('empty.pth'), '');
  // An ONNX ModelProto: ir_version 8, producer_name "pytorch".
  writeFileSync(at('model.pth'), Buffer.from([0x08, 0x08, 0x12, 0x07, ...Buffer.from('pytorch'), 0x3a, 0x00]));
  writeFileSync(at('legacy.pth'), Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
  // A zip without data.pkl (one stored entry, readme.txt).
  const body = deflateRawSync(Buffer.from('hi'));
  const eocd = Buffer.concat([Buffer.from([0x50, 0x4b, 0x05, 0x06]), Buffer.alloc(18)]);
  writeFileSync(
    at('weights.zip.pth'),
    Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), body, eocd]),
  );
  writeFileSync(at('cut.pth'), Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200, 7)]));
  saveTensors(at('real.pth'), new Map([['w', zeros([2])]]));
  const kinds = Object.fromEntries(
    [
      'resnet50.pth',
      'w.safetensors',
      'page.pth',
      'lfs.pth',
      'empty.pth',
      'model.pth',
      'legacy.pth',
      'weights.zip.pth',
      'cut.pth',
      'real.pth',
    ].map((f) => [f, sniffFile(at(f))]),
  );
  assert.deepEqual(kinds, {
    'resnet50.pth': 'png',
    'w.safetensors': 'jpeg',
    'page.pth': 'html',
    'lfs.pth': 'git-lfs-pointer',
    'empty.pth': 'empty',
    'model.pth': 'onnx',
    'legacy.pth': 'torch-legacy',
    'weights.zip.pth': 'zip',
    'cut.pth': 'zip-truncated',
    'real.pth': 'safetensors',
  });
  assert.throws(
    () => assertWeightsFile(at('resnet50.pth')),
    /model\.pretrained .*resnet50\.pth is a PNG image, not weights: it takes a state dict saved by torch\.save/,
  );
  assert.throws(() => assertWeightsFile(at('model.pth')), /is an ONNX model, not weights.*whole graph/);
  assert.throws(() => assertWeightsFile(at('page.pth')), /is an HTML page/);
  assert.throws(() => assertWeightsFile(at('legacy.pth')), /legacy format of PyTorch before 1\.6/);
  assert.throws(() => assertWeightsFile(at('missing.pth')), /model\.pretrained .*missing\.pth does not exist/);
  assert.doesNotThrow(() => assertWeightsFile(at('real.pth')));
});

test("weights are told by their shapes: ResNet depth, bottleneck, ResNeXt's groups, ViT width and patch", () => {
  assert.equal(weightsArch(resnetShapes([2, 2, 2, 2], false))?.arch, 'resnet18');
  assert.equal(weightsArch(resnetShapes([3, 4, 6, 3], false))?.arch, 'resnet34');
  assert.equal(weightsArch(resnetShapes([3, 4, 6, 3], true))?.arch, 'resnet50');
  assert.equal(weightsArch(resnetShapes([3, 4, 6, 3], true, 3, 32, 128))?.arch, 'resnext50_32x4d');
  assert.equal(weightsArch(resnetShapes([3, 4, 23, 3], true))?.arch, 'resnet101');
  const vit = new Map<string, { shape: number[] }>([
    ['cls_token', { shape: [1, 1, 384] }],
    ['patch_embed.proj.weight', { shape: [384, 3, 16, 16] }],
    ...Array.from(
      { length: 12 },
      (_, i) => [`blocks.${i}.norm1.weight`, { shape: [384] }] as [string, { shape: number[] }],
    ),
  ]);
  assert.deepEqual(weightsArch(vit), { family: 'ViT', arch: 'vit_small_patch16', inChannels: 3 });
  assert.equal(
    archMismatch(resnetShapes([2, 2, 2, 2], false), 'resnet50'),
    'holds resnet18 weights, and model.arch=resnet50: set model.arch=resnet18, or give resnet50 weights',
  );
  assert.match(archMismatch(vit, 'resnet50')!, /^holds vit_small_patch16 weights, and model\.arch=resnet50/);
  assert.equal(archMismatch(vit, 'vit_small_patch16'), null);
  assert.equal(archMismatch(vit, 'vit_small_patch8', 16), null, 'model.patchSize sets the patch');
  assert.equal(archMismatch(resnetShapes([2, 2, 2, 2], false), 'resnet18'), null);
  assert.equal(
    channelMismatch(resnetShapes([2, 2, 2, 2], false), 1),
    'holds 3-channel weights (its first layer takes 3 channels), and this model takes 1 channel (grey images): ' +
      'weights for 3 channels do not fit; train without model.pretrained, or on images with as many channels as ' +
      'the weights',
  );
  assert.equal(channelMismatch(resnetShapes([2, 2, 2, 2], false, 1), 1), null);
});

test('checkPretrained reads a real file and names model.pretrained', () => {
  const file = at('resnet18.safetensors');
  saveTensors(file, new Map([...resnetShapes([2, 2, 2, 2], false)].map(([k, v]) => [k, zeros(v.shape)])));
  assert.throws(
    () => checkPretrained(file, 'resnet50'),
    /model\.pretrained .*resnet18\.safetensors holds resnet18 weights, and model\.arch=resnet50: set /,
  );
  assert.doesNotThrow(() => checkPretrained(file, 'resnet18'));
});
