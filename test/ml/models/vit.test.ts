// ViTEmbedder against torchvision's VisionTransformer (weights and outputs written by
// scripts/fixtures/make_vit_fixtures.py): float64 forward parity, and the same tensors from timm's and
// Hugging Face's namings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTensors, tidy, noGrad, type Tensor, dispose } from '../../../src/engine/index.js';
import { ViTEmbedder } from '../../../src/ml/models/vit.js';
import { detectVitNaming, toTorchvisionVit } from '../../../src/ml/models/vit-weight-names.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/models');
const SIZE = { hiddenDim: 16, numLayers: 2, numHeads: 2, mlpDim: 24, patchSize: 8 };

function load(file: string): { weights: Map<string, Tensor>; extra: Map<string, Tensor> } {
  const all = loadTensors(path.join(dir, file)).tensors;
  const weights = new Map([...all].filter(([k]) => !k.startsWith('test.')));
  const extra = new Map([...all].filter(([k]) => k.startsWith('test.')));
  return { weights, extra };
}

function vitFrom(
  file: string,
  pool: 'token' | 'mean' = 'token',
): { model: ViTEmbedder; extra: Map<string, Tensor>; naming: string } {
  const { weights, extra } = load(file);
  const naming = detectVitNaming(weights.keys());
  const { weights: tv, owned } = toTorchvisionVit(weights, naming);
  const model = new ViTEmbedder({ arch: SIZE, numClasses: 5, imageSize: 32, pool, mean: [0, 0, 0], std: [1, 1, 1] });
  model.to('float64');
  const r = model.loadStateDict(tv, false);
  assert.deepEqual(
    r.unexpectedKeys.sort(),
    ['heads.head.bias', 'heads.head.weight'],
    `${file}: only torchvision's classifier is left over`,
  );
  assert.deepEqual(
    r.missingKeys.filter((k) => !/^(mean|std|classifier|remap|norm_layer)/.test(k)),
    [],
    `${file}: the backbone is complete`,
  );
  dispose([weights, owned]);
  model.eval();
  return { model, extra, naming };
}

test("torchvision's VisionTransformer: the class token and the patch-token mean agree to 1e-10 in float64", () => {
  for (const pool of ['token', 'mean'] as const) {
    const { model, extra } = vitFrom('vit_torchvision.pt', pool);
    try {
      const diff = noGrad(() =>
        tidy(() =>
          model
            .backbone(extra.get('test.input')!)
            .sub(extra.get(pool === 'token' ? 'test.features' : 'test.mean_features')!)
            .abs()
            .max()
            .item(),
        ),
      );
      assert.ok(diff <= 1e-10, `${pool}: max |Δ| ${diff}`);
    } finally {
      model.dispose();
      dispose(extra);
    }
  }
});

test("timm's and Hugging Face's namings load the same tensors as torchvision's", () => {
  const ref = vitFrom('vit_torchvision.pt');
  try {
    const want = ref.model.stateDict();
    for (const [file, naming] of [
      ['vit_timm.pt', 'timm'],
      ['vit_hf.pt', 'huggingface'],
    ] as const) {
      const got = vitFrom(file);
      try {
        assert.equal(got.naming, naming);
        for (const [k, t] of got.model.stateDict()) {
          if (/^(classifier|remap)/.test(k)) continue;
          assert.equal(
            tidy(() => t.sub(want.get(k)!).abs().max().item()),
            0,
            `${file}: ${k}`,
          );
        }
      } finally {
        got.model.dispose();
        dispose(got.extra);
      }
    }
  } finally {
    ref.model.dispose();
    dispose(ref.extra);
  }
});

test(
  "a DINO release's layout (timm's names, no classifier head) loads through model.pretrained with nothing " + 'ignored',
  async () => {
    const { saveTensors } = await import('../../../src/engine/index.js');
    const { loadPretrainedBackbone } = await import('../../../src/ml/run/pretrained.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { weights, extra } = load('vit_timm.pt');
    const dino = new Map([...weights].filter(([k]) => !k.startsWith('head.')));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'dml-dino-')), 'dino_deitsmall16_pretrain.pth.safetensors');
    saveTensors(file, dino);
    const ref = vitFrom('vit_torchvision.pt');
    const model = new ViTEmbedder({ arch: SIZE, numClasses: 5, imageSize: 32 });
    model.to('float64');
    try {
      const line = loadPretrainedBackbone(model, file, 'vit');
      assert.match(line, /\(timm names\): \d+ tensors; ignored: none$/);
      const want = ref.model.stateDict();
      for (const [k, t] of model.stateDict()) {
        if (!/^(encoder|conv_proj|class_token)/.test(k)) continue;
        assert.equal(
          tidy(() => t.sub(want.get(k)!).abs().max().item()),
          0,
          k,
        );
      }
    } finally {
      model.dispose();
      ref.model.dispose();
      dispose([weights, extra, ref.extra]);
    }
  },
);

test(
  'model.pretrained into a ViT of another image size: position embeddings resized as timm does ' + '(bicubic)',
  async () => {
    const { saveTensors } = await import('../../../src/engine/index.js');
    const { loadPretrainedBackbone } = await import('../../../src/ml/run/pretrained.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { weights, extra } = load('vit_torchvision.pt');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'dml-vit-')), 'vit.safetensors');
    saveTensors(file, weights);
    const model = new ViTEmbedder({ arch: SIZE, numClasses: 5, imageSize: 48 });
    model.to('float64');
    try {
      const line = loadPretrainedBackbone(model, file, 'vit');
      assert.match(
        line,
        new RegExp(
          /position embeddings resized from 16 to 36 patches: \d+ tensors; ignored: heads\.head\.bias, /.source +
            /heads\.head\.weight|ignored: heads\.head\.weight, heads\.head\.bias/.source,
        ),
      );
      const diff = tidy(() =>
        model.encoder.param('pos_embedding')!.sub(extra.get('test.pos_embedding_6x6')!).abs().max().item(),
      );
      assert.ok(diff <= 1e-12, `max |Δ| ${diff}`);
      // A ResNet's weights into a ViT: refused, naming the keys.
      const bad = path.join(path.dirname(file), 'resnet.safetensors');
      saveTensors(bad, new Map([['conv1.weight', weights.get('conv_proj.weight')!]]));
      assert.throws(
        () => loadPretrainedBackbone(model, bad, 'vit_small_patch16'),
        new RegExp(
          /does not match vit_small_patch16: \d+ of its tensors missing \(class_token, /.source +
            /conv_proj\.weight.*1 unexpected \(conv1\.weight\)/.source,
        ),
      );
    } finally {
      model.dispose();
      dispose([weights, extra]);
    }
  },
);

test('a ViT leaves no tensor behind once disposed, after a forward and backward pass', async () => {
  const { liveTensors, randn } = await import('../../../src/engine/index.js');
  const before = liveTensors();
  const m = new ViTEmbedder({ arch: SIZE, numClasses: 3, imageSize: 16 });
  const x = randn([2, 3, 16, 16]);
  tidy(() => {
    m.forward(x).logits.sum().backward();
  });
  m.zeroGrad();
  x.dispose();
  m.dispose();
  assert.equal(liveTensors(), before);
});
