// The families' memory counts: parameters exactly as the built model has them, activations by
// hand-derived values for a small case and growing with the image as they must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbedder } from '../../../src/ml/models/factory.js';
import { familyOfArch } from '../../../src/ml/models/families.js';
import type { FootprintSpec } from '../../../src/ml/models/footprint.js';

test('a family counts the parameters its model builds, head and classifier included', () => {
  const specs: FootprintSpec[] = [
    { arch: 'resnet18', imageSize: 32, inChannels: 3, numClasses: 10 },
    { arch: 'resnet18', imageSize: 28, inChannels: 1, numClasses: 7, smallInput: true, numFeatures: 64 },
    { arch: 'resnext50_32x4d', imageSize: 32, inChannels: 3, numClasses: 5, remap: true },
    { arch: 'vit_tiny_patch16', imageSize: 64, inChannels: 3, numClasses: 4 },
    { arch: 'vit_tiny_patch16', imageSize: 28, inChannels: 1, numClasses: 3, patchSize: 4 },
  ];
  for (const s of specs) {
    const model = createEmbedder({ ...s, numFeatures: s.numFeatures || undefined });
    try {
      const built = model.parameters().reduce((n, p) => n + p.numel(), 0);
      assert.equal(familyOfArch(s.arch).footprint(s).parameters, built, JSON.stringify(s));
    } finally {
      model.dispose();
    }
  }
});

test("a ResNet-18's saved activations, counted by hand for a 32-px image", () => {
  // Stem: image 3·32² + conv1/bn1 2·64·16² + max-pool (output and int64 indices) 3·64·8².
  const stem = 3 * 32 * 32 + 2 * 64 * 16 * 16 + 3 * 64 * 8 * 8;
  // Per basic block: two conv+BN pairs and the residual sum at its output side; a downsample pair
  // in the first block of stages 2-4.
  const stage = (planes: number, side: number, down: boolean): number =>
    2 * (2 * 2 * planes * side * side + planes * side * side) + (down ? 2 * planes * side * side : 0);
  const want = stem + stage(64, 8, false) + stage(128, 4, true) + stage(256, 2, true) + stage(512, 1, true);
  const fp = familyOfArch('resnet18').footprint({ arch: 'resnet18', imageSize: 32, inChannels: 3, numClasses: 0 });
  assert.equal(fp.savedPerImage, want);
});

test('activations grow with the image side, roughly with its square, and the parameters do not (ResNets)', () => {
  for (const arch of ['resnet18', 'resnet50'] as const) {
    const at = (imageSize: number) => familyOfArch(arch).footprint({ arch, imageSize, inChannels: 3, numClasses: 0 });
    const [a, b] = [at(128), at(256)];
    assert.equal(a.parameters, b.parameters);
    assert.equal(b.savedPerImage, 4 * a.savedPerImage, arch);
    assert.equal(b.inferencePerImage, 4 * a.inferencePerImage, arch);
    assert.ok(a.inferencePerImage < a.savedPerImage / 2, `${arch}: no_grad holds a few layers, not all`);
  }
  // A ViT's position embeddings grow with the tokens; its attention with their square.
  const vit = (imageSize: number) =>
    familyOfArch('vit_tiny_patch16').footprint({ arch: 'vit_tiny_patch16', imageSize, inChannels: 3, numClasses: 0 });
  const [s, l] = [vit(224), vit(448)];
  assert.equal(l.parameters - s.parameters, 192 * (28 * 28 - 14 * 14));
  // Backward keeps per-token tensors (a fused attention saves no scores); under no_grad the scores exist.
  assert.ok(l.savedPerImage > 3.5 * s.savedPerImage && l.savedPerImage < 4 * s.savedPerImage);
  assert.ok(l.inferencePerImage > 4 * s.inferencePerImage);
});
