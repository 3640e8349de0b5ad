// Each model family owns its rules: every arch has exactly one family, which builds it, reads its
// input back from its weights, and says how its parameters decay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispose } from '../../../src/engine/index.js';
import { ARCH_NAMES } from '../../../src/ml/models/arch-names.js';
import { createEmbedder } from '../../../src/ml/models/factory.js';
import { MODEL_FAMILIES, familyOf, familyOfArch } from '../../../src/ml/models/families.js';

test('every arch belongs to exactly one family', () => {
  for (const arch of ARCH_NAMES)
    assert.equal(MODEL_FAMILIES.filter((f) => (f.archs as readonly string[]).includes(arch)).length, 1, arch);
  assert.deepEqual(MODEL_FAMILIES.flatMap((f) => f.archs).sort(), [...ARCH_NAMES].sort());
  assert.throws(() => familyOfArch('alexnet'), /unknown arch 'alexnet'/);
});

test("a family builds its models, owns them, and reads a model's input back from its weights", () => {
  const cases = [
    { arch: 'resnet18', imageSize: 32, shape: { inChannels: 1 } },
    { arch: 'vit_tiny_patch16', imageSize: 32, shape: { inChannels: 1, imageSize: 32, patchSize: 16 } },
  ] as const;
  for (const c of cases) {
    const m = createEmbedder({ arch: c.arch, numClasses: 3, inChannels: 1, imageSize: c.imageSize });
    const sd = m.stateDict();
    try {
      const family = familyOfArch(c.arch);
      assert.equal(familyOf(m), family, c.arch);
      assert.ok(family.owns(m));
      assert.deepEqual(family.weightsShape(sd), c.shape, c.arch);
      assert.equal(family.fixedInputSize(m), 'patchSize' in c.shape ? c.imageSize : undefined);
      for (const other of MODEL_FAMILIES.filter((f) => f !== family)) {
        assert.ok(!other.owns(m));
        assert.equal(other.weightsShape(sd), null, `${other.name} reads ${c.arch}'s weights`);
      }
    } finally {
      dispose(sd);
      m.dispose();
    }
  }
});

test("a ViT's layers for layer-wise decay: embeddings first, then each block, the head last", () => {
  const m = createEmbedder({ arch: 'vit_tiny_patch16', numClasses: 3, inChannels: 3, imageSize: 32 });
  try {
    const layers = familyOf(m).layers!(m);
    assert.equal(layers.count, 14);
    const of = (name: string): number => layers.of(name);
    assert.deepEqual([of('class_token'), of('conv_proj.weight'), of('encoder.pos_embedding')], [0, 0, 0]);
    assert.deepEqual(
      [of('encoder.layers.encoder_layer_0.ln_1.weight'), of('encoder.layers.encoder_layer_11.mlp.0.bias')],
      [1, 12],
    );
    assert.deepEqual([of('encoder.ln.weight'), of('classifier.weight')], [13, 13]);
    assert.equal(familyOfArch('resnet50').layers, undefined, 'ResNets have no blocks to decay over');
  } finally {
    m.dispose();
  }
});
