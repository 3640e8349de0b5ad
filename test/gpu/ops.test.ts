// CUDA against the CPU, op by op: forward values and gradients of the ops a training step is made of
// agree to 1e-4 in float32 (TF32 off), and autocast computes matmuls in the asked dtype on the GPU.
// Skips only where no GPU is visible (see helpers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, autocast, manualSeed, nn, randn, randint, tidy } from '../../src/engine/index.js';
import { DEVICE, SKIP, maxAbsDiff } from './helpers.js';

const F = nn.functional;
const TOL = 1e-4;

/** f on CPU inputs and on their copies on DEVICE: outputs and every input's gradient compared. */
function compare(name: string, inputs: Tensor[], f: (xs: Tensor[]) => Tensor, grad: boolean[]): void {
  tidy(() => {
    const run = (device: string): { out: number[]; grads: number[][] } => {
      const xs = inputs.map((x, i) => {
        const c = x.to(device).detach();
        return grad[i] ? c.requiresGrad_(true) : c;
      });
      const out = f(xs);
      // A fixed weighting of the outputs: every element's gradient is exercised, not only their sum's.
      const w = tidy(() => {
        manualSeed(7);
        return randn(out.shape).to(device);
      });
      out.mul(w).sum().backward();
      return {
        out: Array.from(out.to('cpu').data() as Float32Array),
        grads: xs.filter((_, i) => grad[i]).map((x) => Array.from(x.grad!.to('cpu').data() as Float32Array)),
      };
    };
    const cpu = run('cpu');
    const dev = run(DEVICE!);
    assert.ok(maxAbsDiff(cpu.out, dev.out) <= TOL, `${name}: forward differs by ${maxAbsDiff(cpu.out, dev.out)}`);
    cpu.grads.forEach((g, i) =>
      assert.ok(
        maxAbsDiff(g, dev.grads[i]!) <= TOL,
        `${name}: gradient ${i} differs by ${maxAbsDiff(g, dev.grads[i]!)}`,
      ),
    );
  });
}

test(
  'conv, linear, batch norm, matmul, softmax and cross-entropy: values and gradients match the CPU',
  { skip: SKIP },
  () => {
    manualSeed(0);
    const x = randn([4, 3, 8, 8]);
    const w = randn([5, 3, 3, 3]).mul(0.2);
    const bias = randn([5]).mul(0.1);
    compare('conv2d', [x, w, bias], ([a, b, c]) => F.conv2d(a!, b!, c!, { stride: 1, padding: 1 }), [true, true, true]);
    const lw = randn([6, 10]).mul(0.3);
    const lx = randn([7, 10]);
    compare('linear', [lx, lw], ([a, b]) => F.linear(a!, b!), [true, true]);
    compare('matmul', [randn([9, 12]), randn([12, 5])], ([a, b]) => a!.matmul(b!), [true, true]);
    const gamma = randn([3]).abs().add(0.5);
    const beta = randn([3]);
    compare(
      'batchNorm (training)',
      [x, gamma, beta],
      ([a, g, b]) => F.batchNorm(a!, null, null, { weight: g!, bias: b!, training: true }),
      [true, true, true],
    );
    compare('softmax', [randn([6, 11]).mul(3)], ([a]) => F.softmax(a!, 1), [true]);
    const logits = randn([8, 10]).mul(2);
    const target = randint(0, 10, [8]);
    compare('crossEntropy', [logits, target], ([a, t]) => F.crossEntropy(a!, t!), [true, false]);
  },
);

test('autocast runs GPU matmuls in bfloat16 and float16, and leaves them float32 outside', { skip: SKIP }, () => {
  tidy(() => {
    const a = randn([4, 8]).to(DEVICE!);
    const b = randn([8, 3]).to(DEVICE!);
    const gpu = DEVICE!.startsWith('cuda');
    // On the CPU (the dry run) autocast is CUDA's only: the dtype stays float32.
    assert.equal(
      autocast('bfloat16', () => a.mm(b).dtype),
      gpu ? 'bfloat16' : 'float32',
    );
    assert.equal(
      autocast('float16', () => a.mm(b).dtype),
      gpu ? 'float16' : 'float32',
    );
    assert.equal(a.mm(b).dtype, 'float32');
  });
});
