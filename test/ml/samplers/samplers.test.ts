import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassBalancedSampler, RandomBatchSampler } from '../../../src/ml/samplers/index.js';

test('random batches: drop-last, a permutation, deterministic per (seed, epoch)', () => {
  const s = new RandomBatchSampler(103, 10, 5);
  const e0 = s.epoch(0);
  assert.equal(e0.length, 10);
  assert.ok(e0.every((b) => b.length === 10));
  assert.equal(new Set(e0.flat()).size, 100);
  assert.deepEqual(s.epoch(0), e0);
  assert.notDeepEqual(s.epoch(1), e0);
  assert.throws(() => new RandomBatchSampler(5, 10), /cannot fill one batch/);
});

test('class-balanced batches: m samples of batch/m distinct classes, replacement for small classes', () => {
  const labels = [...Array(40).fill(0), ...Array(40).fill(1), ...Array(40).fill(2), 3, 3];
  const s = new ClassBalancedSampler(labels, 8, 4, 1);
  assert.equal(s.batchesPerEpoch, Math.floor(labels.length / 8));
  for (const batch of s.epoch(0)) {
    const classes = batch.map((i) => labels[i]!);
    const counts = new Map<number, number>();
    classes.forEach((c) => counts.set(c, (counts.get(c) ?? 0) + 1));
    assert.equal(counts.size, 2);
    for (const n of counts.values()) assert.equal(n, 4);
    for (let k = 0; k < 8; k += 4) {
      const c = labels[batch[k]!]!;
      if (c !== 3)
        assert.equal(new Set(batch.slice(k, k + 4)).size, 4, 'no repeats within a class that has enough samples');
    }
  }
  assert.deepEqual(s.epoch(3), s.epoch(3));
  assert.throws(() => new ClassBalancedSampler(labels, 10, 4), /not divisible/);
  assert.throws(() => new ClassBalancedSampler([0, 0, 1, 1], 12, 2), /only 2 classes/);
});
