// torchvision parity of the residual blocks: torch.save'd torchvision blocks (random weights,
// non-trivial BatchNorm statistics) load into BasicBlock / Bottleneck by key and reproduce
// torchvision's outputs, input and parameter gradients and running-statistic updates, in eval and
// in train mode. Fixtures: scripts/fixtures/make_model_fixtures.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nn, dispose, liveTensors, noGrad, tidy, type Tensor } from '../../../src/engine/index.js';
import { BasicBlock, Bottleneck, conv1x1, type BlockOptions } from '../../../src/ml/models/index.js';
import { assertClose, F32, F64_VS_STORED_F32, get, loadFixture, sub } from './helpers.js';

const down = (i: number, o: number, stride: number): nn.Sequential =>
  new nn.Sequential(conv1x1(i, o, stride), new nn.BatchNorm2d(o));

// The same blocks as the fixture script's BLOCKS (torchvision's constructor arguments in comments).
const BLOCKS: Record<string, () => BasicBlock | Bottleneck> = {
  // BasicBlock(8, 16, stride=2, downsample=...)
  basic_down: () => new BasicBlock(8, 16, { stride: 2, downsample: down(8, 16, 2) }),
  // BasicBlock(16, 16)
  basic_id: () => new BasicBlock(16, 16),
  // Bottleneck(16, 8, downsample=...): width 8, out 32
  bottleneck_down: () => new Bottleneck(16, 8, { downsample: down(16, 32, 1) }),
  // Bottleneck(16, 16, stride=2, downsample=..., groups=4, base_width=8): grouped 3x3 conv, width 8
  resnext_down: () =>
    new Bottleneck(16, 16, { stride: 2, downsample: down(16, 64, 2), groups: 4, baseWidth: 8 } satisfies BlockOptions),
};

function runPass(block: BasicBlock | Bottleneck, x: Tensor, gy: Tensor): { y: Tensor; gx: Tensor } {
  block.zeroGrad();
  const xi = x.double().requiresGrad_(true);
  const y = block.forward(xi);
  const loss = y.mul(gy.double()).sum();
  loss.backward();
  return { y, gx: xi.grad! };
}

for (const [name, make] of Object.entries(BLOCKS)) {
  test(`${name}: the torch.save'd torchvision block loads strictly, key for key, in torchvision's order`, () => {
    const before = liveTensors();
    const sd = loadFixture(`block_${name}.pt`);
    const block = make();
    const own = block.stateDict();
    assert.deepEqual([...own.keys()], [...sd.keys()], 'same keys in the same order');
    for (const [k, v] of own) {
      assert.deepEqual(v.shape, sd.get(k)!.shape, `${k}: shape`);
      assert.equal(v.dtype, sd.get(k)!.dtype, `${k}: dtype`);
    }
    const r = block.loadStateDict(sd);
    assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [] });
    for (const [k, v] of own) assert.deepEqual(v.dataNumbers(), sd.get(k)!.dataNumbers(), `${k}: value copied`);
    dispose([own, sd]);
    block.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });

  test(`${name}: reproduces torchvision's eval and train passes (outputs, gradients, running stats)`, () => {
    const before = liveTensors();
    const block = make();
    // tidy frees the fixtures, gradients and temporaries; the block's own tensors are kept.
    tidy(() => checkPasses(name, block));
    block.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });
}

function checkPasses(name: string, block: BasicBlock | Bottleneck): void {
  const sd = loadFixture(`block_${name}.pt`);
  const io = loadFixture(`block_${name}_io.pt`);
  const x = get(io, 'x'),
    gy = get(io, 'gy');
  block.loadStateDict(sd);

  // float32, eval: as loaded, against torchvision's float32 output.
  block.eval();
  const y32 = noGrad(() => block.forward(x));
  assertClose(y32, get(io, 'eval32.y'), F32, `${name} eval float32 y`);

  // float64 (the float32 weights widened exactly), against float64 torchvision results.
  block.to('float64');
  for (const mode of ['eval', 'train'] as const) {
    block.train(mode === 'train');
    const { y, gx } = runPass(block, x, gy);
    assertClose(y, get(io, `${mode}.y`), F64_VS_STORED_F32, `${name} ${mode} y`);
    assertClose(gx, get(io, `${mode}.grad.x`), F64_VS_STORED_F32, `${name} ${mode} dL/dx`);
    const grads = sub(io, `${mode}.grad`);
    grads.delete('x');
    const params = new Map(block.namedParameters());
    assert.deepEqual([...params.keys()], [...grads.keys()], 'same parameters');
    for (const [k, p] of params) {
      const g = p.grad;
      assert.ok(g, `${k} has a gradient`);
      assertClose(g, grads.get(k)!, F64_VS_STORED_F32, `${name} ${mode} dL/d${k}`);
    }
    if (mode === 'train') {
      const state = sub(io, 'train.state');
      assert.ok(state.size > 0);
      const own = block.stateDict();
      for (const [k, v] of state) {
        if (k.endsWith('num_batches_tracked')) assert.equal(own.get(k)!.item(), v.item(), `${k} after one train pass`);
        else assertClose(own.get(k)!, v, F64_VS_STORED_F32, `${name} ${k} after one train pass`);
      }
    } else {
      // Eval passes leave the running statistics as loaded.
      const own = block.stateDict();
      for (const [k, v] of sd)
        if (/running_|num_batches/.test(k))
          assert.deepEqual(own.get(k)!.to(v.dtype).dataNumbers(), v.dataNumbers(), `${k} after eval`);
    }
  }
  block.zeroGrad();
}

test('Bottleneck width follows torchvision: floor(planes * baseWidth / 64) * groups', () => {
  const b = new Bottleneck(64, 64, { groups: 32, baseWidth: 4, downsample: down(64, 256, 1) });
  assert.deepEqual(b.conv1.weight.shape, [128, 64, 1, 1]);
  assert.deepEqual(b.conv2.weight.shape, [128, 4, 3, 3], 'grouped: 128 / 32 input channels per group');
  assert.deepEqual(b.conv3.weight.shape, [256, 128, 1, 1]);
  b.dispose();
  const c = new Bottleneck(16, 24, { groups: 8, baseWidth: 4 });
  assert.deepEqual(c.conv1.weight.shape, [8, 16, 1, 1], 'floor(24 * 4 / 64) = 1 channel per group');
  c.dispose();
  assert.throws(() => new BasicBlock(8, 8, { groups: 2 }), /BasicBlock only supports/);
});
