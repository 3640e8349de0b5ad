// The dml CLI end to end on a tiny synthetic IDX data set: train, eval, export, and a diverging run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticIdx } from '../ml/data/synthetic-idx.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const root = mkdtempSync(path.join(tmpdir(), 'dml-cli-'));
const data = path.join(root, 'data');
writeSyntheticIdx(data, 16, 6, 12);
const common = [
  `data.root=${data}`,
  'batchSize=16',
  'model.smallInput=true',
  'model.numFeatures=32',
  'threads=1',
  'logEvery=1',
];
const dml = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8' });

test(
  'train → metrics log, checkpoints, Recall@K table; eval and export reuse the checkpoint',
  { timeout: 180_000 },
  () => {
    const out = path.join(root, 'run');
    const r = dml('train', ...common, `out=${out}`, 'epochs=2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Recall@K \(%\) on unseen classes after 2 epochs/);
    assert.match(r.stdout, /cosine\s+\d+\.\d\d/);
    const log = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(log.some((e) => e.type === 'train' && typeof e.loss === 'number' && typeof e.lr === 'number'));
    const evals = log.filter((e) => e.type === 'eval');
    assert.equal(evals.length, 2);
    assert.ok(typeof (evals[0]!.recall as { cosine: Record<string, number> }).cosine['1'] === 'number');
    for (const f of ['last.safetensors', 'best.safetensors']) assert.ok(existsSync(path.join(out, f)), f);
    // A CE run measures its classifier's CE against PCE on every logged step (logEvery=1: all 5 batches of an epoch).
    const bounds = log.filter((e) => e.type === 'bound') as Record<string, number>[];
    assert.deepEqual(
      bounds.map((b) => b.epoch),
      [1, 2],
    );
    for (const b of bounds) {
      assert.equal(b.batches, 5);
      for (const k of ['ce', 'pce', 'tightness', 'contrastive', 'lambda', 'ceMinusPce', 'ceAbovePce'])
        assert.ok(Number.isFinite(b[k]), `bound.${k}`);
      assert.ok(
        Math.abs(b.tightness! + b.contrastive! - b.pce!) < 1e-9 &&
          Math.abs(b.ce! - b.pce! - b.ceMinusPce!) < 1e-9 &&
          b.lambda! > 0,
      );
    }

    // dml mi on the training classes: both MI views, CE against PCE on the checkpoint, and the run's per-epoch table.
    const mi = dml('mi', '--checkpoint', path.join(out, 'last.safetensors'), '--split', 'train');
    assert.equal(mi.status, 0, mi.stderr);
    assert.match(mi.stdout, /discriminative \(logits\): I = H\(Y\) - CE/);
    assert.match(
      mi.stdout,
      new RegExp(
        /CE vs PCE \(5 random batches of 16\): CE \d\.\d{4}, PCE -?\d\.\d{4} \(tightness -?\d\.\d{4}, /.source +
          /contrastive \d\.\d{4}, λ \d+\.\d{3}\); CE ≥ PCE in \d+% of batches/.source,
      ),
    );
    assert.match(
      mi.stdout,
      /CE and PCE per epoch of the run[^\n]*\nepoch +CE +PCE +tightness +contrastive +λ +CE≥PCE\n +1 [^\n]+\n +2 /,
    );
    const miJson = dml('mi', '--checkpoint', path.join(out, 'last.safetensors'), '--split', 'train', '--json');
    assert.equal(miJson.status, 0, miJson.stderr);
    const mj = JSON.parse(miJson.stdout.trim().split('\n').pop()!) as {
      pceBound: Record<string, number>;
      pceBoundByEpoch: unknown[];
      discriminative: { crossEntropy: { nats: number } };
    };
    assert.equal(mj.pceBound.batches, 5);
    assert.equal(mj.pceBoundByEpoch.length, 2);
    assert.ok(Math.abs(mj.pceBound.tightness! + mj.pceBound.contrastive! - mj.pceBound.pce!) < 1e-9);

    const e = dml('eval', '--checkpoint', path.join(out, 'best.safetensors'), '--json');
    assert.equal(e.status, 0, e.stderr);
    const report = JSON.parse(e.stdout.trim().split('\n').pop()!) as {
      recall: { cosine: Record<string, number> };
      queries: number;
    };
    assert.equal(report.queries, 30);
    const best = evals.reduce((a, b) =>
      (a.recall as { cosine: Record<string, number> }).cosine['1']! >=
      (b.recall as { cosine: Record<string, number> }).cosine['1']!
        ? a
        : b,
    );
    // The best checkpoint re-evaluated gives the R@1 logged for its epoch.
    assert.equal(report.recall.cosine['1'], (best.recall as { cosine: Record<string, number> }).cosine['1']);

    const onnx = path.join(root, 'm.onnx');
    const x = dml('export', '--onnx', '--checkpoint', path.join(out, 'best.safetensors'), '--out', onnx);
    assert.equal(x.status, 0, x.stderr);
    assert.ok(readFileSync(onnx).length > 1000);

    // A run folder stands for its best checkpoint everywhere; export writes ONNX without being told.
    const byRun = dml('eval', '--checkpoint', out, '--json');
    assert.equal(byRun.status, 0, byRun.stderr);
    const runReport = JSON.parse(byRun.stdout.trim().split('\n').pop()!) as typeof report & { seconds?: number };
    assert.deepEqual({ ...runReport, seconds: 0 }, { ...report, seconds: 0 });
    const onnx2 = path.join(root, 'm2.onnx');
    const x2 = dml('export', '--checkpoint', out, '--out', onnx2);
    assert.equal(x2.status, 0, x2.stderr);
    assert.deepEqual(readFileSync(onnx2), readFileSync(onnx));
    const miRun = dml('mi', '--checkpoint', out, '--split', 'train');
    assert.equal(miRun.status, 0, miRun.stderr);
    assert.match(
      miRun.stdout,
      new RegExp(`MI report of ${path.join(out, 'best.safetensors').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    const empty = mkdtempSync(path.join(root, 'empty-'));
    const none = dml('eval', '--checkpoint', empty);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /a folder without best\.safetensors or last\.safetensors/);
  },
);

test('dml serve reports a taken port before it reads or embeds the gallery', { timeout: 60_000 }, async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  try {
    const t0 = Date.now();
    const r = dml(
      'serve',
      '--checkpoint',
      path.join(root, 'nothing-here'),
      '--gallery',
      path.join(root, 'no-gallery'),
      '--port',
      String(port),
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    assert.ok(Date.now() - t0 < 30_000);
  } finally {
    busy.close();
  }
});

test('a diverging run stops with a clear message and keeps the last good checkpoint', { timeout: 120_000 }, () => {
  const out = path.join(root, 'nan');
  const good = dml('train', ...common, `out=${out}`, 'epochs=1');
  assert.equal(good.status, 0, good.stderr);
  const before = readFileSync(path.join(out, 'last.safetensors'));
  // Into the same folder: refused without --force (the good run would be replaced).
  const refused = dml('train', ...common, `out=${out}`, 'epochs=3');
  assert.equal(refused.status, 2);
  assert.match(
    refused.stderr,
    new RegExp(
      /already holds a run \(last\.safetensors, best\.safetensors\): continue it with --resume, or /.source +
        /start over with --force/.source,
    ),
  );
  const r = dml('train', ...common, `out=${out}`, 'epochs=3', 'optim.lr=1e30', 'optim.schedule=none', '--force');
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /loss became (NaN|Infinity|-Infinity) at epoch \d+, batch \d+/);
  assert.match(r.stderr, /last good checkpoint is .*last\.safetensors/);
  assert.ok(readFileSync(path.join(out, 'last.safetensors')).equals(before), 'the good checkpoint must be untouched');
});

test('bad arguments are named', async () => {
  const r = dml('train', 'optim.lrr=1');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown config key 'optim.lrr' \(did you mean optim\.lr\?\)/);
  // Every command's mistyped option is a usage error (2) with the nearest option.
  for (const [cmd, typo, right] of [
    ['eval', '--chekpoint', '--checkpoint'],
    ['serve', '--prot', '--port'],
    ['report', '--quite', '--quiet'],
    ['train', '--resum', '--resume'],
  ]) {
    const t = dml(cmd!, typo!, 'x');
    assert.equal(t.status, 2, `${cmd} ${typo}`);
    assert.match(
      t.stderr,
      new RegExp(`^dml ${cmd}: unknown option '${typo}' \\(did you mean ${right}\\?\\); see dml ${cmd} --help`),
    );
  }
  const u = dml('frobnicate');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
  // A CUDA request on a build or machine without a GPU is a usage error (a machine with one would train).
  const { cudaAvailable } = await import('../../src/engine/index.js');
  if (!cudaAvailable()) {
    const cuda = dml('train', 'device=cuda');
    assert.equal(cuda.status, 2);
    assert.match(
      cuda.stderr,
      new RegExp(
        String.raw`^dml train: device=cuda: this libtorch (has no CUDA; build the addon against a CUDA ` +
          String.raw`libtorch \(LIBTORCH=|has CUDA but no GPU)`,
      ),
    );
  }
  const typo = dml('trian');
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /unknown command 'trian' \(did you mean train\?\)/);
  const help = dml('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^ {2}train {4}train a model/m);
  assert.match(help.stdout, /^ {2}serve {4}serve nearest-neighbour search/m);
  // The version, then the libtorch the addon runs on: its version (2.x), CPU kernels and CUDA.
  assert.match(
    dml('--version').stdout,
    new RegExp(
      String.raw`^dml \d+\.\d+\.\d+\nlibtorch 2\.\d+\.\d+ \(CPU capability (DEFAULT|AVX2|AVX512), ` +
        String.raw`(CPU-only build|CUDA build, [^)]+), BLAS \w+\)\n$`,
    ),
  );
  const m = dml('train', `data.root=${path.join(root, 'missing')}`, `out=${path.join(root, 'missing-run')}`);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /missing train-images-idx3-ubyte/);
});

test(
  'model.pretrained must cover the backbone: torchvision names load, other keys are refused',
  { timeout: 120_000 },
  async () => {
    const { saveTensors } = await import('../../src/engine/index.js');
    const { ResNetEmbedder } = await import('../../src/ml/models/resnet.js');
    const m = new ResNetEmbedder({ arch: 'resnet18', numClasses: 3, inChannels: 1, smallInput: true });
    const sd = m.stateDict();
    // torchvision's layout: the backbone plus its own classifier fc.*, none of our head.
    const tv = new Map([...sd].filter(([k]) => /^(conv1|bn1|layer\d)\./.test(k)));
    tv.set('fc.weight', sd.get('classifier.weight')!);
    const good = path.join(root, 'tv.safetensors');
    saveTensors(good, tv);
    const renamed = new Map([...tv].map(([k, v]) => [`module.${k}`, v]));
    const bad = path.join(root, 'ddp.safetensors');
    saveTensors(bad, renamed);
    const ok = dml(
      'train',
      ...common,
      `out=${path.join(root, 'pre-ok')}`,
      'epochs=1',
      `model.pretrained=${good}`,
      'model.arch=resnet18',
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(
      ok.stdout,
      // saveTensors recorded tensor checksums, which the load verified (issue 26).
      new RegExp(
        /loaded .*tv\.safetensors, tensor checksums verified: \d+ tensors; /.source +
          /not in file: \d+ \(the head\); ignored: fc\.weight/.source,
      ),
    );
    const r = dml(
      'train',
      ...common,
      `out=${path.join(root, 'pre-bad')}`,
      'epochs=1',
      `model.pretrained=${bad}`,
      'model.arch=resnet18',
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(
        /model\.pretrained .*ddp\.safetensors does not match resnet18's backbone: \d+ of its tensors /.source +
          /missing \(conv1\.weight, bn1\.weight, .*\), \d+ unexpected \(module\./.source,
      ),
    );
  },
);

test('a Recall@K whose K exceeds the candidates is flagged, not silent', { timeout: 120_000 }, () => {
  const out = path.join(root, 'bigk');
  const r = dml('train', ...common, `out=${out}`, 'epochs=1', 'recallKs=1,500');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /warning: recallKs 500 exceed the 29 candidates of each query/);
  const e = dml('eval', '--checkpoint', path.join(out, 'last.safetensors'), '--json');
  assert.match(e.stderr, /dml eval: warning: recallKs 500 exceed the 29 candidates/);
});

test(
  'output to a file gets a progress line at least every DML_PROGRESS_SECONDS (default 30)',
  { timeout: 120_000 },
  () => {
    const out = path.join(root, 'progress');
    const r = spawnSync(process.execPath, [cli, 'train', ...common, `out=${out}`, 'epochs=1'], {
      encoding: 'utf8',
      env: { ...process.env, DML_PROGRESS_SECONDS: '0' },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter((l) => /^epoch 1\/1 step \d+\/\d+ {2}loss \d+\.\d{4} {2}\d+ img\/s {2}ETA /.test(l));
    assert.ok(lines.length >= 2, r.stdout);
  },
);
