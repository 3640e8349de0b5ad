// Pretrained weights named by torchvision, timm or Hugging Face load into the same tensors; a file
// named the torch.hub way (resnet50-0676ba61.pth) must have the SHA-256 its name begins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveTensors, tidy } from '../../../src/engine/index.js';
import { ResNetEmbedder } from '../../../src/ml/models/resnet.js';
import { detectNaming, torchvisionName } from '../../../src/ml/models/weight-names.js';
import { hashPrefixOf, loadPretrainedBackbone } from '../../../src/ml/run/pretrained.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/models');
const pairs = JSON.parse(readFileSync(path.join(fixtures, 'weight_names.json'), 'utf8')) as Record<
  string,
  [string, string][]
>;

test("Hugging Face names map to torchvision's, key by key, for a basic-block and a bottleneck ResNet", () => {
  for (const [arch, list] of Object.entries(pairs)) {
    assert.equal(detectNaming(list.map((p) => p[1])), 'huggingface', arch);
    assert.equal(detectNaming(list.map((p) => p[0])), 'torchvision', arch);
    for (const [tv, hf] of list) {
      assert.equal(torchvisionName(hf, 'huggingface'), tv, hf);
      assert.equal(
        torchvisionName(hf.replace(/^resnet\./, ''), 'huggingface'),
        tv,
        `${hf} without the ResNetModel prefix`,
      );
    }
    // torchvision's keys are the model's backbone keys.
    const m = new ResNetEmbedder({ arch: arch as 'resnet18' | 'resnet50', numClasses: 3 });
    try {
      const ours = [...m.stateDict().keys()].filter((k) => /^(conv1|bn1|layer\d)\./.test(k)).sort();
      assert.deepEqual(
        ours,
        list
          .map((p) => p[0])
          .filter((k) => !k.startsWith('fc.'))
          .sort(),
        arch,
      );
    } finally {
      m.dispose();
    }
  }
});

test(
  'a Hugging Face file loads the same tensors as a torchvision one; torch.hub names are checked against the ' +
    'SHA-256',
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dml-weights-'));
    const src = new ResNetEmbedder({ arch: 'resnet18', numClasses: 3 });
    const sd = src.stateDict();
    const toHf = new Map(pairs.resnet18!.map(([tv, hf]) => [tv, hf]));
    const hfFile = path.join(dir, 'model.safetensors');
    saveTensors(hfFile, new Map([...sd].filter(([k]) => toHf.has(k)).map(([k, t]) => [toHf.get(k)!, t])));
    const dst = new ResNetEmbedder({ arch: 'resnet18', numClasses: 3 });
    try {
      const line = loadPretrainedBackbone(dst, hfFile, 'resnet18');
      assert.match(line, /\(Hugging Face names\): 120 tensors; not in file: \d+ \(the head\); ignored: none/);
      const got = dst.stateDict();
      for (const k of toHf.keys())
        if (!k.startsWith('fc.'))
          assert.equal(
            tidy(() => got.get(k)!.sub(sd.get(k)!).abs().max().item()),
            0,
            k,
          );

      // torch.hub's naming: the name carries the start of the SHA-256.
      const digest = createHash('sha256').update(readFileSync(hfFile)).digest('hex');
      const named = path.join(dir, `resnet18-${digest.slice(0, 8)}.safetensors`);
      renameSync(hfFile, named);
      assert.equal(hashPrefixOf(named), digest.slice(0, 8));
      assert.match(
        loadPretrainedBackbone(dst, named, 'resnet18'),
        new RegExp(`SHA-256 ${digest.slice(0, 8)}… checked`),
      );
      const lying = path.join(dir, 'resnet18-0676ba61.safetensors');
      renameSync(named, lying);
      assert.throws(
        () => loadPretrainedBackbone(dst, lying, 'resnet18'),
        new RegExp(
          /resnet18-0676ba61\.safetensors: its SHA-256 is [0-9a-f]{64}, but its name says it starts /.source +
            /with 0676ba61 .*damaged or incomplete/.source,
        ),
      );
      assert.equal(hashPrefixOf('/w/resnet50.pth'), null);
    } finally {
      src.dispose();
      dst.dispose();
    }
  },
);
