// The memory budget: its arithmetic, the default limit, and dml train refusing a run that cannot
// fit before it reads any data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { familyOfArch } from '../../../src/ml/models/families.js';
import { resolveConfig } from '../../../src/ml/run/config/resolve.js';
import {
  BASE_BYTES,
  DEFAULT_LIMIT_SHARE,
  INFERENCE_ACTIVATION_FACTOR,
  MemoryBudgetError,
  TRAIN_ACTIVATION_FACTOR,
  checkMemoryBudget,
  estimateInferenceMemory,
  estimateTrainingMemory,
  memoryLimit,
} from '../../../src/ml/run/memory-budget.js';

const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const MiB = 2 ** 20;

test('a training estimate is the base, 4 bytes per parameter per tensor kept, and batch × the saved activations', () => {
  const keys = ['preset=none', 'model.arch=resnet18', 'data.imageSize=64', 'batchSize=16'];
  const cfg = resolveConfig({ overrides: keys });
  const fp = familyOfArch('resnet18').footprint({ arch: 'resnet18', imageSize: 64, inChannels: 3, numClasses: 10 });
  const e = estimateTrainingMemory(cfg, { numClasses: 10 });
  assert.equal(e.base, BASE_BYTES);
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
  assert.equal(two.base, 2 * BASE_BYTES);
  assert.equal(two.parameters, 2 * e.parameters);
  assert.equal(two.activations, e.activations);
});

test('an inference estimate holds no gradients and only the forward it runs', () => {
  const spec = { arch: 'resnet50' as const, imageSize: 224, inChannels: 3, numClasses: 0 };
  const fp = familyOfArch('resnet50').footprint(spec);
  const e = estimateInferenceMemory({ ...spec, batch: 8 });
  assert.equal(e.parameters, 4 * fp.parameters);
  assert.equal(e.activations, 4 * 8 * fp.inferencePerImage * INFERENCE_ACTIVATION_FACTOR);
  const train = estimateTrainingMemory(
    resolveConfig({ overrides: ['preset=none', 'model.arch=resnet50', 'data.imageSize=224', 'batchSize=8'] }),
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
      /^embedding needs about \d+ MiB of memory \(activations .*\), more than the limit of \d+ MiB \(memoryLimitMB=1\)\. Lower --batch\.$/.test(
        err.message,
      ),
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
      /^dml train: training resnet18 with batchSize 32 at data\.imageSize 64 needs about \d+ MiB of memory .*more than the limit of 300 MiB \(memoryLimitMB=300\)\. Lower batchSize or data\.imageSize, or raise memoryLimitMB/,
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
