// Training on an image-list dataset: lists → sharp pipeline on loader workers → trainer → Recall@K,
// then dml embed on a folder tree with a corrupt image (--skip-bad).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadTensors } from '../../../../src/engine/index.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src/cli/main.js');
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8' });

async function writeImages(root: string, classes: number, perClass: number): Promise<string[]> {
  const lines: string[] = [];
  for (let c = 0; c < classes; c++) {
    const dir = path.join(root, `class${c}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const rgb = { r: (c * 53) % 256, g: (c * 97 + i * 7) % 256, b: (c * 31) % 256 };
      const file = path.join(dir, `${i}.png`);
      await sharp({ create: { width: 40, height: 36, channels: 3, background: rgb } })
        .png()
        .toFile(file);
      lines.push(`class${c}/${i}.png,${c}`);
    }
  }
  return lines;
}

test(
  'list dataset: train 1 epoch, evaluate, embed a folder skipping a corrupt image',
  { timeout: 180_000 },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dml-img-'));
    const lines = await writeImages(root, 8, 6);
    const train = lines.filter((l) => Number(l.split(',')[1]) < 4);
    const test_ = lines.filter((l) => Number(l.split(',')[1]) >= 4);
    writeFileSync(path.join(root, 'train.txt'), `# path,label\n${train.join('\n')}\n`);
    writeFileSync(path.join(root, 'test.txt'), `${test_.join('\n')}\n`);
    const out = path.join(root, 'run');
    const r = dml(
      'train',
      'data.kind=list',
      `data.root=${root}`,
      'data.imageSize=32',
      'data.resize=36',
      'data.workers=1',
      'data.cache=decoded',
      `out=${out}`,
      'epochs=1',
      'batchSize=8',
      'model.arch=resnet18',
      'model.numFeatures=16',
      'threads=1',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /24 training images of 4 classes; 24 test images/);
    assert.match(r.stdout, /cosine\s+\d+\.\d\d/);

    writeFileSync(path.join(root, 'class0', 'broken.png'), 'not an image');
    const emb = path.join(root, 'emb.safetensors');
    const e = dml(
      'embed',
      '--checkpoint',
      path.join(out, 'best.safetensors'),
      '--dir',
      root,
      '--out',
      emb,
      '--skip-bad',
      '--workers',
      '1',
    );
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stderr, /skipped 1 unreadable/);
    const { tensors, metadata } = loadTensors(emb);
    assert.deepEqual(tensors.get('features')!.shape, [48, 16]);
    assert.equal(tensors.get('labels')!.shape[0], 48);
    assert.equal((JSON.parse(metadata.paths!) as string[]).length, 48);

    const bad = dml(
      'embed',
      '--checkpoint',
      path.join(out, 'best.safetensors'),
      '--dir',
      root,
      '--out',
      emb,
      '--workers',
      '1',
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /broken\.png/);
  },
);
