// Stochastic depth in training: whole samples are dropped with probability p, the rest scaled by 1/(1-p).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, ones, tidy } from '../../../src/engine/index.js';
import * as F from '../../../src/engine/nn/functional.js';

test('dropPath drops whole samples with probability p and rescales the kept ones', () => {
  manualSeed(3);
  const rows = tidy(() => {
    const y = F.dropPath(ones([4000, 3, 4], { dtype: 'float64' }), 0.3, true);
    return Array.from({ length: 4000 }, (_, i) => y.select(0, i).dataNumbers());
  });
  let dropped = 0;
  for (const r of rows) {
    const v = r[0]!;
    assert.ok(
      r.every((x) => x === v),
      'a sample is kept or dropped as a whole',
    );
    if (v === 0) dropped++;
    else assert.ok(Math.abs(v - 1 / 0.7) < 1e-12);
  }
  assert.ok(Math.abs(dropped / 4000 - 0.3) < 0.03, `dropped ${dropped} of 4000`);
  assert.throws(() => F.dropPath(ones([2]), 1, true), /p must be in \[0, 1\)/);
});
