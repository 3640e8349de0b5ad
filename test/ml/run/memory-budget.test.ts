// The memory budget: its arithmetic, the default limit, and dml train refusing a run that cannot
// fit before it reads any data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCheckpoint } from '../../server/helpers.js';
import { writeImage } from '../data/helpers.js';
import { familyOfArch } from '../../../src/ml/models/families.js';
import { resolveConfig } from '../../../src/ml/run/config/resolve.js';
import {
  BASE_BYTES,
  DEFAULT_LIMIT_SHARE,
  INFERENCE_ACTIVATION_FACTOR,
  MemoryBudgetError,
  TRAIN_ACTIVATION_FACTOR,
  TRAIN_EXTRA_BYTES,
  checkMemoryBudget,
  estimateInferenceMemory,
  estimateTrainingMemory,
  fittingBatch,
  memoryLimit,
} from '../../../src/ml/run/memory-budget.js';

const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const rssChild = fileURLToPath(new URL('../../faults/rss-child.js', import.meta.url));
const MiB = 2 ** 20;

test('a training estimate: the base, 4 bytes per parameter per tensor kept, batch × the saved activations', () => {
  const keys = ['preset=none', 'data.kind=folder', 'model.arch=resnet18', 'data.imageSize=64', 'batchSize=16'];
  const cfg = resolveConfig({ overrides: keys });
  const fp = familyOfArch('resnet18').footprint({ arch: 'resnet18', imageSize: 64, inChannels: 3, numClasses: 10 });
  const e = estimateTrainingMemory(cfg, { numClasses: 10 });
  assert.equal(e.base, BASE_BYTES + TRAIN_EXTRA_BYTES);
  // SGD with momentum: weights, gradients, momentum.
  assert.equal(e.parameters, 4 * 3 * fp.parameters);
  assert.equal(e.activations, 4 * 16 * fp.savedPerImage * TRAIN_ACTIVATION_FACTOR);
  assert.equal(e.pipeline, 4 * 5 * 16 * 3 * 64 * 64);
  assert.equal(e.total, e.base + e.parameters + e.activations + e.pipeline);
  // AdamW keeps two buffers; SGD without momentum none.
  const adam = estimateTrainingMemory(resolveConfig({ overrides: [...keys, 'optim.name=adamw'] }), { numClasses: 10 });
  assert.equal(adam.parameters, 4 * 4 * fp.parameters);
  const plain = estimateTrainingMemory(resolveConfig({ overrides: [...keys, 'optim.momentum=0'] }), { numClasses: 10 });
  assert.equal(plain.parameters, 4 * 2 * fp.parameters);
  // Twice the batch, twice the activations and buffers; the classifier's classes add parameters.
  const twice = estimateTrainingMemory(resolveConfig({ overrides: [...keys, 'batchSize=32'] }), { numClasses: 10 });
  assert.equal(twice.activations, 2 * e.activations);
  assert.equal(twice.parameters, e.parameters);
  assert.ok(estimateTrainingMemory(cfg, { numClasses: 10_000 }).parameters > e.parameters + 4 * 3 * 512 * 9_990);
  // Two processes on this machine, each with half the batch and its own libtorch and model.
  const two = estimateTrainingMemory(cfg, { numClasses: 10, processes: { onNode: 2, world: 2 } });
  assert.equal(two.base, 2 * (BASE_BYTES + TRAIN_EXTRA_BYTES));
  assert.equal(two.parameters, 2 * e.parameters);
  assert.equal(two.activations, e.activations);
  // In-memory data of one native side (Fashion-MNIST's 28 px) is not resized to data.imageSize.
  const fashion = (side: number) =>
    estimateTrainingMemory(
      resolveConfig({ overrides: ['preset=none', 'model.arch=resnet18', `data.imageSize=${side}`, 'batchSize=16'] }),
      { inChannels: 1 },
    );
  assert.equal(fashion(224).total, fashion(28).total);
  assert.equal(fashion(224).pipeline, 4 * 5 * 16 * 28 * 28);
});

test('an inference estimate holds no gradients and only the forward it runs', () => {
  const spec = { arch: 'resnet50' as const, imageSize: 224, inChannels: 3, numClasses: 0 };
  const fp = familyOfArch('resnet50').footprint(spec);
  const e = estimateInferenceMemory({ ...spec, batch: 8 });
  assert.equal(e.parameters, 4 * fp.parameters);
  assert.equal(e.activations, 4 * 8 * fp.inferencePerImage * INFERENCE_ACTIVATION_FACTOR);
  const train = estimateTrainingMemory(
    resolveConfig({
      overrides: ['preset=none', 'data.kind=folder', 'model.arch=resnet50', 'data.imageSize=224', 'batchSize=8'],
    }),
  );
  assert.ok(e.total < train.total);
});

test('the limit: MiB when set, else a share of the machine (or cgroup) memory; the refusal names the settings', () => {
  assert.deepEqual(memoryLimit(512, 'memoryLimitMB'), { bytes: 512 * MiB, source: 'memoryLimitMB=512' });
  const auto = memoryLimit(0, 'memoryLimitMB');
  assert.ok(auto.bytes <= DEFAULT_LIMIT_SHARE * totalmem() && auto.bytes > 0);
  assert.match(auto.source, /the default, 90% of this (machine|cgroup)/);
  const e = estimateInferenceMemory({ arch: 'resnet18', imageSize: 64, inChannels: 3, batch: 4 });
  assert.doesNotThrow(() => checkMemoryBudget(e, { bytes: e.total, source: 'x' }, 'w', 'c'));
  assert.throws(
    () => checkMemoryBudget(e, { bytes: e.total - 1, source: 'memoryLimitMB=1' }, 'embedding', 'Lower --batch.'),
    (err: unknown) =>
      err instanceof MemoryBudgetError &&
      /^embedding needs about \d+ MiB of memory \(activations .*\), more than the limit of \d+ MiB/.test(err.message) &&
      err.message.endsWith('(memoryLimitMB=1). Lower --batch.'),
  );
});

test('dml train refuses a run over its memory limit before reading its data, naming what to change', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-budget-'));
  try {
    // The data folders do not exist: a refusal about them would mean the data was read first.
    const data = ['preset=none', 'data.kind=folder', `data.train=${dir}/absent`, `data.test=${dir}/absent`];
    const run = (...keys: string[]) =>
      spawnSync(process.execPath, [cli, 'train', ...data, `out=${dir}/run`, ...keys], { encoding: 'utf8' });
    const small = run('model.arch=resnet18', 'data.imageSize=64', 'batchSize=32', 'memoryLimitMB=300');
    assert.equal(small.status, 2, small.stderr);
    assert.match(
      small.stderr,
      new RegExp(
        '^dml train: training resnet18 with batchSize 32 at data\\.imageSize 64 needs about \\d+ MiB of memory .*' +
          'more than the limit of 300 MiB \\(memoryLimitMB=300\\)\\. Lower batchSize or data\\.imageSize, or raise ' +
          'memoryLimitMB',
      ),
    );
    // Under the default limit (a share of this machine), a batch no machine holds.
    const huge = run('model.arch=resnet50', 'data.imageSize=2048', 'batchSize=100000');
    assert.equal(huge.status, 2, huge.stderr);
    assert.match(huge.stderr, /needs about [\d.]+ GiB of memory .*\(the default, 90% of this/);
    // Within the limit, the run goes on to its data, and fails there.
    const ok = run('model.arch=resnet18', 'data.imageSize=64', 'batchSize=32', 'memoryLimitMB=100000');
    assert.notEqual(ok.status, 0);
    assert.doesNotMatch(ok.stderr, /memory/);
    assert.match(ok.stderr, /absent/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dml embed: a batch over --memory-limit is refused before reading images; estimate near peak', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-budget-embed-'));
  try {
    // A ResNet-18 at 16 px (test/server/helpers.ts), four images.
    const checkpoint = await makeCheckpoint(path.join(dir, 'm.safetensors'));
    for (let i = 0; i < 4; i++) await writeImage(path.join(dir, 'img', `c${i % 2}`, `${i}.png`), 20, 20, { seed: i });
    const embed = (...extra: string[]) =>
      spawnSync(
        process.execPath,
        [
          rssChild,
          'embed',
          '--checkpoint',
          checkpoint,
          '--dir',
          `${dir}/img`,
          '--out',
          `${dir}/e.safetensors`,
          ...extra,
        ],
        { encoding: 'utf8' },
      );
    const refused = embed('--batch', '100000', '--memory-limit', '1000');
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        '^dml embed: embedding --batch 100000 images at a time with resnet18 at 16 px needs about [\\d.]+ GiB .*' +
          'more than the limit of 1000 MiB \\(--memory-limit=1000\\)\\. Lower --batch',
      ),
    );
    assert.ok(!existsSync(`${dir}/e.safetensors`));
    const bad = embed('--memory-limit', 'lots');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--memory-limit must be a positive number of MiB, got 'lots'/);
    // The estimate against the measured peak (VmHWM) of the same command: bench/memory.ts's
    // calibration holds its settings within 0.8-1.25 of it; this small one is mostly the base.
    const ok = embed('--batch', '4', '--workers', '1', '--quiet');
    assert.equal(ok.status, 0, ok.stderr);
    const peak = Number(/DML_MAX_RSS_KB (\d+)/.exec(ok.stderr)?.[1]) * 1024;
    const est = estimateInferenceMemory({ arch: 'resnet18', imageSize: 16, inChannels: 3, batch: 4, numFeatures: 32 });
    const ratio = est.total / peak;
    assert.ok(ratio > 0.8 && ratio < 1.25, `estimate ${est.total} vs peak ${peak}: ${ratio.toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the toolkit's own batches (evaluation) halve until they fit the default limit", () => {
  const run = (arch: 'resnet18' | 'resnet50', side: number) => ({
    config: resolveConfig({
      overrides: ['preset=none', 'data.kind=folder', `model.arch=${arch}`, `data.imageSize=${side}`],
    }),
    model: { options: { inChannels: 3 } },
  });
  const cost = (arch: 'resnet18' | 'resnet50', side: number, batch: number) =>
    estimateInferenceMemory({ arch, imageSize: side, inChannels: 3, batch, numFeatures: 2048 }).total;
  const limit = memoryLimit(0, 'memoryLimitMB').bytes;
  // A small model keeps the full batch; ResNet-50 at 2048 px (~1 GB of activations an image) cannot
  // take 256 on any machine of less than ~300 GB: the batch is the largest halving that fits.
  assert.equal(fittingBatch(run('resnet18', 32), 256), 256);
  const b = fittingBatch(run('resnet50', 2048), 256);
  assert.ok(b < 256 && Number.isInteger(Math.log2(b)), `batch ${b}`);
  assert.ok(b === 1 || cost('resnet50', 2048, b) <= limit, `batch ${b} fits`);
  assert.ok(cost('resnet50', 2048, 2 * b) > limit, `batch ${2 * b} would not fit`);
});

test('dml serve: workers × largest batch over --memory-limit is refused before embedding the gallery', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-budget-serve-'));
  try {
    const checkpoint = await makeCheckpoint(path.join(dir, 'm.safetensors'));
    for (let i = 0; i < 4; i++) await writeImage(path.join(dir, 'img', `c${i % 2}`, `${i}.png`), 20, 20, { seed: i });
    const serve = (...extra: string[]) =>
      spawnSync(
        process.execPath,
        [cli, 'serve', '--checkpoint', checkpoint, '--gallery', `${dir}/img`, '--port', '0', ...extra],
        { encoding: 'utf8', timeout: 60_000 },
      );
    const refused = serve('--max-batch', '100000', '--workers', '2', '--memory-limit', '1000');
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        '^dml serve: serving resnet18 at 16×16 px with 2 worker\\(s\\) of batches up to 100000 needs about ' +
          '[\\d.]+ GiB .*more than the limit of 1000 MiB \\(--memory-limit=1000\\)\\. Lower --batch-size, --max-batch',
        'm',
      ),
    );
    assert.doesNotMatch(refused.stdout, /listening/);
    const bad = serve('--memory-limit', '0');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--memory-limit must be a positive number of MiB, got '0'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
