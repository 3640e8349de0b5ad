// Mixed precision's engine side: autocast regions (CUDA only: CPU ops keep their dtype, and the
// previous state comes back, also after a throw) and the fp16 gradient scaler's arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradScaler, autocast, ones, tensor, tidy } from '../../src/engine/index.js';

test('autocast leaves CPU ops in float32, nests, and restores the state after a throw', () => {
  const dtypes = tidy(() => {
    const a = ones([2, 3]);
    const b = ones([3, 2]);
    const inner = autocast('bfloat16', () => autocast('float16', () => a.mm(b).dtype));
    return [autocast('bfloat16', () => a.mm(b).dtype), inner];
  });
  assert.deepEqual(dtypes, ['float32', 'float32']);
  assert.throws(() =>
    autocast('float16', () => {
      throw new Error('inside');
    }),
  );
  assert.equal(
    tidy(() => ones([2, 2]).mm(ones([2, 2])).dtype),
    'float32',
  );
  assert.throws(() => autocast('int8' as never, () => 0), /autocast: dtype must be 'bfloat16' or 'float16'/);
});

test('the gradient scaler unscales finite gradients, skips and backs off on overflow, grows after good steps', () => {
  const p = tensor([1, 2], { dtype: 'float32' }).requiresGrad_(true);
  const q = tensor([3], { dtype: 'float32' }).requiresGrad_(true);
  const s = new GradScaler({ initScale: 8, growthInterval: 2 });
  const step = (gp: number[], gq: number[]): boolean => {
    p.grad = tensor(gp, { dtype: 'float32' });
    q.grad = tensor(gq, { dtype: 'float32' });
    return s.unscaleAndUpdate([p, q]);
  };
  assert.equal(step([8, 16], [4]), true);
  assert.deepEqual(p.grad!.tolist(), [1, 2]);
  assert.deepEqual(q.grad!.tolist(), [0.5]);
  assert.equal(s.scale, 8);
  assert.equal(step([8, Infinity], [4]), false);
  assert.equal(s.scale, 4);
  assert.equal(step([4, 4], [Number.NaN]), false);
  assert.equal(s.scale, 2);
  assert.equal(step([2, 2], [2]), true);
  assert.equal(step([2, 2], [2]), true);
  assert.equal(s.scale, 4, 'doubled after growthInterval good steps in a row');
  const l = tidy(() => s.scaleLoss(tensor([0.5], { dtype: 'float32' })).tolist());
  assert.deepEqual(l, [2]);
  assert.throws(() => new GradScaler({ initScale: 0 }), /initScale must be positive/);
});

test('pinMemory: the same values in a tensor of its own (here, without a GPU, a new handle on the same data)', () => {
  const a = tensor([1.5, -2, 3], { dtype: 'float32' });
  const p = a.pinMemory();
  try {
    assert.notEqual(p, a);
    assert.deepEqual(p.shape, [3]);
    assert.equal(p.dtype, 'float32');
    assert.equal(p.device, 'cpu');
    assert.deepEqual(p.dataNumbers(), [1.5, -2, 3]);
  } finally {
    a.dispose();
  }
  // Its own handle: disposing the source leaves it readable.
  assert.deepEqual(p.dataNumbers(), [1.5, -2, 3]);
  p.dispose();
});
