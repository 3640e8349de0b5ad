// dml train on your own data, as a user meets it: its own run folder and header, --print-config,
// --help with the values used, config.yaml, --resume from the stored configuration, refusals before
// any data loads (unknown names, a run on other data, schedule changes, a wrong model.pretrained).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeClassFolders } from '../ml/data/helpers.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const root = mkdtempSync(path.join(tmpdir(), 'dml-own-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', cwd: root });
const photos = path.join(root, 'photos');
const data = ['data.kind=folder', `data.train=${photos}/train`, `data.test=${photos}/test`];
const small = [
  'data.imageSize=16',
  'data.resize=16',
  'model.arch=resnet18',
  'model.smallInput=true',
  'model.numFeatures=8',
  'batchSize=6',
  'epochs=1',
  'threads=1',
  'data.workers=0',
];

test('--print-config prints what would run, writes nothing; --help shows the values of the preset used', () => {
  const p = dml('train', ...data, '--print-config');
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /^preset: none$/m);
  assert.match(p.stdout, /^out: runs\/photos$/m);
  assert.match(p.stdout, /^ {2}arch: resnet50$/m);
  assert.ok(!existsSync(path.join(root, 'runs')), 'nothing written');
  const h = dml('train', '--help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^ {2}epochs = 2 {3}\(/m, "the default run's 2 epochs, not the table's 30");
  assert.match(h.stdout, /^ {2}model\.arch = "resnet18"/m);
  assert.doesNotMatch(h.stdout, /list below/);
  assert.match(h.stdout, /^ {2}loss\.name = "smooth-ce" {3}\(one of cross-entropy, smooth-ce, /m);
  const cub = dml('train', '--preset', 'cub', '--help');
  assert.match(cub.stdout, /^ {2}epochs = 30 /m);
  assert.match(cub.stdout, /^ {2}model\.dropout = 0\.5 /m);
  const mine = dml('train', ...data, '--help');
  assert.match(mine.stdout, /preset none: the defaults of the key table/);
  assert.match(mine.stdout, /^ {2}out = "runs\/photos"/m);
});

test('unknown presets and losses exit 2 with the nearest name; embed wants --out', () => {
  const p = dml('train', '--preset', 'fashion-mnst');
  assert.equal(p.status, 2, p.stderr);
  assert.match(p.stderr, /^dml train: unknown preset 'fashion-mnst' \(did you mean fashion-mnist\?\)/);
  const l = dml('train', 'loss.name=arcfce');
  assert.equal(l.status, 2, l.stderr);
  assert.match(l.stderr, /got "arcfce" \(did you mean arcface\?\)/);
  const e = dml('embed', '--checkpoint', 'runs/x', '--dir', photos);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /dml embed: give --out FILE\.safetensors/);
  assert.ok(!existsSync(path.join(root, 'embeddings.safetensors')));
});

test('device, amp and the backend are checked before the data opens: refusals exit 2 saying why', async () => {
  const { buildInfo } = await import('../../src/engine/index.js');
  const gpu = buildInfo().cudaAvailable;
  // The data folder does not exist: a refusal that came after the data opened would name it instead.
  const gone = ['data.kind=folder', `data.train=${root}/none/train`, `data.test=${root}/none/test`, `out=${root}/r`];
  for (const amp of ['bf16', 'fp16']) {
    const r = dml('train', ...gone, 'device=cpu', `amp=${amp}`);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `dml train: amp=${amp}: mixed precision runs on CUDA only; bf16 autocast was slower than fp32 on this CPU ` +
        'in PyTorch 2.14 (no AMX). Use amp=off\n',
    );
  }
  const n = dml('train', ...gone, 'device=cpu', 'distributed.backend=nccl');
  assert.equal(n.status, 2, n.stderr);
  assert.match(
    n.stderr,
    /^dml train: distributed\.backend=nccl: NCCL reduces CUDA tensors only and this run is on the CPU/,
  );
  if (!gpu) {
    const c = dml('train', ...gone, 'device=cuda:0');
    assert.equal(c.status, 2, c.stderr);
    assert.match(c.stderr, /^dml train: device=cuda:0: this libtorch (has no CUDA|has CUDA but no GPU is visible)/);
    for (const cmd of ['eval', 'mi']) {
      const e = dml(cmd, '--checkpoint', `${root}/none`, '--device', 'cuda');
      assert.equal(e.status, 2, e.stderr);
      assert.match(e.stderr, new RegExp(`^dml ${cmd}: --device=cuda: this libtorch`));
    }
  }
  const bad = dml('eval', '--checkpoint', `${root}/none`, '--device', 'tpu');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^dml eval: --device=tpu: expected cpu, auto, cuda or cuda:N/);
  assert.ok(!existsSync(path.join(root, 'r')), 'nothing written');
});

test('model.pretrained is checked before the data opens: what the file is, which arch it holds', async () => {
  const { saveTensors } = await import('../../src/engine/index.js');
  const { ResNetEmbedder } = await import('../../src/ml/models/resnet.js');
  const png = path.join(root, 'resnet50-0676ba61.pth');
  await writeClassFolders(path.join(root, 'img'), ['x'], 1, 4);
  const { copyFileSync } = await import('node:fs');
  copyFileSync(path.join(root, 'img', 'x', '0.png'), png);
  // batchSize=8: the key table's ResNet-50 at batch 128 would meet the memory budget first on a machine
  // of less than ~16 GB.
  const missing = [
    'data.kind=folder',
    'data.train=/no/such/train',
    'data.test=/no/such/test',
    'out=runs/p',
    'batchSize=8',
  ];
  const r = dml('train', ...missing, `model.pretrained=${png}`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /model\.pretrained .*resnet50-0676ba61\.pth is a PNG image, not weights/);
  const m = new ResNetEmbedder({ arch: 'resnet18', numClasses: 2 });
  const r18 = path.join(root, 'r18.safetensors');
  saveTensors(r18, m.stateDict());
  m.dispose();
  const a = dml('train', ...missing, `model.pretrained=${r18}`);
  assert.equal(a.status, 1);
  assert.match(a.stderr, /model\.pretrained .*r18\.safetensors holds resnet18 weights, and model\.arch=resnet50: set /);
  assert.doesNotMatch(a.stderr, /no\/such/);
  // Fashion-MNIST's images are grey: colour weights are named as such, before its files are looked for.
  const c = dml('train', 'data.root=/no/such/fmnist', 'out=runs/c', 'model.arch=resnet18', `model.pretrained=${r18}`);
  assert.equal(c.status, 1);
  assert.match(
    c.stderr,
    /r18\.safetensors holds 3-channel weights \(its first layer takes 3 channels\), and this model /,
  );
  assert.match(c.stderr, /takes 1 channel \(grey images\)/);
  assert.doesNotMatch(c.stderr, /no\/such/);
});

test(
  'own data trains into runs/<data name> with config.yaml; --resume takes the stored configuration; a run on ' +
    'other data is not offered --force',
  { timeout: 240_000 },
  async () => {
    // 'owl' is a training and a test class: said, and the table is not called "unseen classes".
    await writeClassFolders(path.join(photos, 'train'), ['cat', 'dog', 'owl'], 6, 8);
    await writeClassFolders(path.join(photos, 'test'), ['ant', 'owl'], 4, 8);
    const r = dml('train', ...data, ...small);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        /^dml train: your data \(data\.kind=folder, no preset: the key table's defaults\), resnet18, 1 epochs, /
          .source + /.*; run folder runs\/photos$/.source,
        'm',
      ),
    );
    assert.doesNotMatch(r.stdout, /fashion-mnist/);
    assert.match(r.stderr, /warning: an epoch is only 3 steps \(18 training images, batchSize 6\)/);
    assert.match(r.stderr, /warning: 1 of the 2 test classes are also training classes \(owl\)/);
    assert.match(r.stdout, /Recall@K \(%\) on the test classes \(1 of them also trained on\) after 1 epochs/);
    assert.doesNotMatch(r.stdout, /unseen/);
    const run = path.join(root, 'runs', 'photos');
    assert.ok(existsSync(path.join(run, 'last.safetensors')));
    assert.match(readFileSync(path.join(run, 'config.yaml'), 'utf8'), /^preset: none$/m);

    // --resume with nothing but the folder: the stored data and settings (all its epochs are done).
    const resumed = dml('train', '--resume', 'out=runs/photos', 'threads=1');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed from .*last\.safetensors: 1 epochs done/);
    const changed = dml('train', '--resume', 'out=runs/photos', 'epochs=3', 'optim.lr=0.1');
    assert.equal(changed.status, 2);
    assert.match(
      changed.stderr,
      /changes a setting that shapes its lr schedule, batches or model: optim\.lr 0\.02 in the run, 0\.1 asked here\. /,
    );
    // More epochs extend the run, with the schedule recomputed and said before the data loads.
    const longer = dml('train', '--resume', 'out=runs/photos', 'epochs=2', 'threads=1');
    assert.equal(longer.status, 0, longer.stderr);
    assert.match(longer.stderr, /epochs 1 in the run, 2 asked here: the lr schedule is recomputed/);
    assert.match(longer.stdout, /resumed from .*last\.safetensors: 1 epochs done/);
    // Other data into the same folder: what differs, and no --force.
    await writeClassFolders(path.join(root, 'cars', 'train'), ['a', 'b'], 3, 8);
    const other = dml(
      'train',
      'data.kind=folder',
      `data.train=${root}/cars/train`,
      `data.test=${photos}/test`,
      'out=runs/photos',
    );
    assert.equal(other.status, 2);
    assert.match(
      other.stderr,
      new RegExp(
        /runs\/photos holds a run on other data \(data\.train ".*photos\/train" there, ".*cars\/train" here\): /
          .source + /give this run its own folder with out=DIR/.source,
      ),
    );
    assert.doesNotMatch(other.stderr, /--force/);

    // dml embed takes a flat folder of images: no classes, labels -1.
    const e = dml('embed', '--checkpoint', 'runs/photos', '--dir', path.join(photos, 'test', 'ant'), '--out', 'e.st');
    assert.equal(e.status, 0, e.stderr);
    const { loadTensors } = await import('../../src/engine/index.js');
    const { tensors, metadata } = loadTensors(path.join(root, 'e.st'));
    assert.deepEqual(tensors.get('labels')!.dataNumbers(), [-1, -1, -1, -1]);
    assert.deepEqual([metadata.labelled, metadata.classes], ['false', '[]']);
    // ... and a list of bare paths.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(root, 'plain.txt'), `${photos}/test/ant/0.png\n${photos}/test/owl/1.png\n`);
    const l = dml('embed', '--checkpoint', 'runs/photos', '--list', 'plain.txt', '--out', 'l.st');
    assert.equal(l.status, 0, l.stderr);
    assert.deepEqual(loadTensors(path.join(root, 'l.st')).tensors.get('labels')!.dataNumbers(), [-1, -1]);
  },
);
