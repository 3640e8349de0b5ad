// The probe's thread guard: small probes run on one thread (OpenMP hand-offs dominate thousands of
// tiny steps), large ones on the caller's threads, and the caller's count is always restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getNumThreads, setNumThreads, randn, manualSeed } from '../../../src/engine/index.js';
import { crossFittedProbe, SERIAL_PROBE_MACS } from '../../../src/ml/mi/probe.js';

function threadsDuring(n: number, d: number, classes: number): Set<number> {
  manualSeed(0);
  const x = randn([n, d]);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const seen = new Set<number>();
  crossFittedProbe(x, labels, { folds: 2, steps: 2, weightDecay: 1e-3, onProgress: () => seen.add(getNumThreads()) });
  x.dispose();
  return seen;
}

test('a small probe runs on one thread and gives the caller its thread count back', () => {
  const before = getNumThreads();
  setNumThreads(2);
  try {
    assert.deepEqual([...threadsDuring(32, 8, 4)], [1]);
    assert.equal(getNumThreads(), 2);
  } finally {
    setNumThreads(before);
  }
});

test("a probe of SERIAL_PROBE_MACS or more per step keeps the caller's threads", () => {
  const before = getNumThreads();
  setNumThreads(2);
  try {
    // 512 points (the bound counts all of them) x 32 dims x 256 classes: exactly the threshold.
    assert.equal(512 * 32 * 256, SERIAL_PROBE_MACS);
    assert.deepEqual([...threadsDuring(512, 32, 256)], [2]);
    assert.equal(getNumThreads(), 2);
  } finally {
    setNumThreads(before);
  }
});
