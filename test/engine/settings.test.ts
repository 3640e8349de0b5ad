// Engine settings and facts: intra-op thread count, global seeding (whole training steps replay
// exactly), and the libtorch build description.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import {
  setNumThreads,
  getNumThreads,
  availableThreads,
  MAX_THREADS,
  manualSeed,
  buildInfo,
  cudaAvailable,
  rand,
  randn,
  tidy,
  nn,
  optim,
} from '../../src/engine/index.js';
import { loadFixture } from './engine-helpers.js';
import { native } from '../../src/engine/native.js';

test('setNumThreads / getNumThreads round trip; invalid counts are refused', () => {
  const original = getNumThreads();
  assert.ok(Number.isInteger(original) && original >= 1);
  try {
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(2);
    assert.equal(getNumThreads(), 2);
    // Results do not depend on the thread count (a reduction big enough to be split).
    const x = rand([1 << 16], { dtype: 'float64' });
    setNumThreads(1);
    const s1 = tidy(() => x.sum().item());
    setNumThreads(2);
    const s2 = tidy(() => x.sum().item());
    assert.ok(Math.abs(s1 - s2) < 1e-9, `${s1} vs ${s2}`);
    x.dispose();
  } finally {
    setNumThreads(original);
  }
  assert.throws(() => setNumThreads(0), /an integer in \[1, 1024\], got 0/);
  assert.throws(() => setNumThreads(1.5), /an integer in \[1, 1024\]/);
  // OpenMP would end the process trying to start a billion threads at the next parallel op.
  assert.throws(() => setNumThreads(1e9), /an integer in \[1, 1024\], got 1000000000/);
  assert.throws(
    () => native.setNumThreads(1e9),
    /setNumThreads\(n\): n must be an integer in \[1, 1024\], got 1000000000/,
  );
  assert.equal(getNumThreads(), original);
});

/** Three SGD steps of a small model on random data, all drawn from the global stream. */
function seededRun(seed: number): number[] {
  manualSeed(seed);
  return tidy(() => {
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(8, 2));
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const x = randn([5, 4]);
      const loss = model.forward(x).square().mean();
      opt.zeroGrad();
      loss.backward();
      opt.step();
      losses.push(loss.item());
    }
    const out = [...losses, ...model.parameters()[0]!.dataNumbers()];
    opt.dispose();
    model.dispose();
    return out;
  });
}

test('manualSeed makes initialisation, dropout masks and data draws reproducible', () => {
  const a = seededRun(7);
  const b = seededRun(7);
  const c = seededRun(8);
  assert.deepEqual(a, b, 'same seed, same run, bit for bit');
  assert.notDeepEqual(a, c);
});

test('buildInfo describes the libtorch the addon was built against', () => {
  const b = buildInfo();
  // The fixtures came from Python's torch of the addon's libtorch version (scripts/python-test-env.sh's venv).
  const { torch } = loadFixture<{ torch: string }>('random.json');
  assert.match(b.torchVersion, /^\d+\.\d+\.\d+$/);
  assert.equal(b.torchVersion.split('.').slice(0, 2).join('.'), torch.split('.').slice(0, 2).join('.'));
  assert.equal(typeof b.cudaAvailable, 'boolean');
  assert.match(b.cpuCapability, /^(DEFAULT|AVX2|AVX512|ZVECTOR|VSX|SVE\d*)$/);
  assert.ok(!b.cudaAvailable || b.cudaBuilt, 'a visible GPU needs a CUDA build');
  assert.equal(cudaAvailable(), b.cudaAvailable);
  assert.equal(b.cudaDeviceCount > 0, b.cudaAvailable);
  assert.match(b.config, /PyTorch built with/);
  assert.ok(b.blas.length > 0);
  assert.match(b.parallelInfo, /ATen\/Parallel/);
  assert.match(b.parallelInfo, new RegExp(`at::get_num_threads\\(\\) : ${getNumThreads()}`));
});

test('availableThreads: OMP_NUM_THREADS when it is a count, else every CPU this process may use', () => {
  const saved = process.env.OMP_NUM_THREADS;
  try {
    process.env.OMP_NUM_THREADS = '3';
    assert.equal(availableThreads(), 3);
    for (const bad of ['0', 'two', '1.5', '']) {
      process.env.OMP_NUM_THREADS = bad;
      assert.equal(availableThreads(), availableParallelism(), `OMP_NUM_THREADS=${JSON.stringify(bad)}`);
    }
    process.env.OMP_NUM_THREADS = '5000';
    assert.equal(availableThreads(), MAX_THREADS);
  } finally {
    if (saved === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = saved;
  }
});
