import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, zeros, tidy, liveTensors, nn, optim, noGrad, gradcheck, buildInfo } from '../../src/engine/index.js';

test('basic arithmetic and readback', () => {
  const a = tensor(
    [
      [1, 2],
      [3, 4],
    ],
    { dtype: 'float32' },
  );
  const b = a.add(1).mul(a);
  assert.deepEqual(b.tolist(), [
    [2, 6],
    [12, 20],
  ]);
  assert.equal(b.dtype, 'float32');
  assert.deepEqual(tensor([1, 2]).dtype, 'int64');
});

test('tidy frees what it does not return', () => {
  const before = liveTensors();
  const kept = tidy(() => {
    const x = zeros([3]);
    const y = x.add(1);
    return y.mul(2);
  });
  assert.equal(liveTensors(), before + 1);
  kept.dispose();
  assert.equal(liveTensors(), before);
});

test('a linear layer trains with SGD', () => {
  const lin = new nn.Linear(3, 1);
  const opt = new optim.SGD(lin.parameters(), { lr: 0.1, momentum: 0.9 });
  const x = tensor(
    [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    { dtype: 'float32' },
  );
  const y = tensor([[1], [2], [3]], { dtype: 'float32' });
  let loss = Infinity;
  for (let i = 0; i < 100; i++) {
    loss = tidy(() => {
      const l = lin.forward(x).sub(y).square().mean();
      opt.zeroGrad();
      l.backward();
      opt.step();
      return l.item();
    });
  }
  assert.ok(loss < 1e-3, `loss ${loss}`);
  noGrad(() => assert.ok(lin.weight.requiresGrad));
});

test('gradcheck of a composite', () => {
  const x = tensor([0.3, -1.2, 2.0], { dtype: 'float64', requiresGrad: true });
  const r = gradcheck((t) => t.exp().mul(t.sin()).sum(), [x]);
  assert.ok(r.ok, JSON.stringify(r));
});

test('build info', () => {
  const b = buildInfo();
  assert.match(b.torchVersion, /^\d+\.\d+/);
});
