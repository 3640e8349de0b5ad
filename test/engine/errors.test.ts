// Misuse surfaces as a JS Error carrying libtorch's own message (never a crash), disposed tensors
// are refused, and tidy()/dispose()/keep() manage native memory so liveTensors() returns to its
// baseline. Messages are matched loosely (their key phrase) so a libtorch wording tweak elsewhere
// in the sentence does not break the test, but each assertion pins the reason for the failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  tensor,
  zeros,
  ones,
  cat,
  stack,
  einsum,
  randint,
  randperm,
  linspace,
  multinomial,
  tidy,
  keep,
  dispose,
  liveTensors,
  nn,
  Generator,
  rand,
  buildInfo,
  type Tensor,
} from '../../src/engine/index.js';
import { native } from '../../src/engine/native.js';
import { assertThrowsMsg } from './engine-helpers.js';

const F = nn.functional;

test("shape mismatches throw libtorch's message", () => {
  tidy(() => {
    assertThrowsMsg(
      () => zeros([2, 3]).add(zeros([4])),
      /size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1/,
    );
    assertThrowsMsg(() => zeros([2, 3]).mm(zeros([2, 3])), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
    assertThrowsMsg(() => F.linear(zeros([2, 3]), zeros([4, 5])), /shapes cannot be multiplied/);
    assertThrowsMsg(() => cat([zeros([2, 3]), zeros([2, 4])], 0), /Sizes of tensors must match except in dimension 0/);
    assertThrowsMsg(() => stack([zeros([2]), zeros([3])]), /stack expects each tensor to be equal size/);
    assertThrowsMsg(() => zeros([2, 3]).view(4), /shape '\[4\]' is invalid for input of size 6/);
    assertThrowsMsg(() => zeros([2, 3]).t().view(6), /view size is not compatible with input tensor's size and stride/);
    assertThrowsMsg(
      () => zeros([2, 3]).expand(3, 3),
      /expanded size of the tensor \(3\) must match the existing size \(2\)/,
    );
    assertThrowsMsg(
      () => F.conv2d(zeros([1, 3, 5, 5]), zeros([2, 2, 3, 3])),
      /expected input\[1, 3, 5, 5\] to have 2 channels, but got 3/,
    );
    assertThrowsMsg(() => F.crossEntropy(zeros([2, 3]), tensor([0, 5])), /Target 5 is out of bounds/);
    assertThrowsMsg(() => F.maxPool2d(zeros([1, 1, 2, 2]), 3), /Output size is too small/);
    assertThrowsMsg(() => zeros([2]).bmm(zeros([2])), /batch1 must be a 3D tensor/);
    assertThrowsMsg(() => einsum('ij,jk->ik', zeros([2, 3]), zeros([2, 3])), /subscript j has size 2 for operand 1/);
    assertThrowsMsg(
      () => zeros([2]).pad([1, 2, 3, 4]),
      /Length of pad should be no more than twice the number of dimensions/,
    );
    assertThrowsMsg(() => zeros([-1]), /Dimension size must be non-negative/);
    assertThrowsMsg(() => zeros([2 ** 40, 2 ** 40]), /overflow/);
    assertThrowsMsg(() => zeros([2]).item(), /item\(\): tensor has 2 elements, expected 1/);
  });
});

test('wrong dtypes throw (float indices, mixed-dtype matmul, bool arithmetic, int sqrt_)', () => {
  tidy(() => {
    assertThrowsMsg(
      () => zeros([3]).indexSelect(0, tensor([0.0, 1.5])),
      /index_select\(\): Expected dtype int32 or int64 for index/,
    );
    assertThrowsMsg(() => zeros([3]).gather(0, tensor([0.5])), /gather\(\): Expected dtype int32\/int64 for index/);
    assertThrowsMsg(
      () => zeros([2, 2]).mm(zeros([2, 2], { dtype: 'int64' })),
      /expected m1 and m2 to have the same dtype, but got: float != long/,
    );
    assertThrowsMsg(
      () => F.crossEntropy(zeros([2, 3]), tensor([0.5, 1.5])),
      /expected target dtype to be Long or Byte, but got Float/,
    );
    assertThrowsMsg(
      () => tensor([true]).sub(tensor([false])),
      /Subtraction, the `-` operator, with two bool tensors is not supported/,
    );
    assertThrowsMsg(() => tensor([1, 2]).sqrt_(), /result type Float can't be cast to the desired output type Long/);
    assertThrowsMsg(() => multinomial(tensor([0, 0]), 1), /multinomial only supports floating-point dtypes/);
    assertThrowsMsg(() => tensor([1, 2]).requiresGrad_(), /Only Tensors of floating point.*can require gradients/);
    assertThrowsMsg(() => tensor([-1]).oneHot(), /Class values must be non-negative/);
  });
});

test('out-of-range dims and indices throw', () => {
  tidy(() => {
    assertThrowsMsg(
      () => zeros([2, 3]).sum(5),
      /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/,
    );
    assertThrowsMsg(() => zeros([2, 3]).transpose(0, 3), /Dimension out of range/);
    assertThrowsMsg(
      () => zeros([2]).softmax(2),
      /Dimension out of range \(expected to be in range of \[-1, 0\], but got 2\)/,
    );
    assertThrowsMsg(
      () => zeros([2, 3]).select(1, 5),
      /select\(\): index 5 out of range for tensor of size \[2, 3\] at dimension 1/,
    );
    assertThrowsMsg(() => zeros([2, 3]).narrow(1, 2, 3), /start \(2\) \+ length \(3\) exceeds dimension size \(3\)/);
    assertThrowsMsg(() => zeros([3]).indexSelect(0, tensor([7])), /index out of range in self/);
    assertThrowsMsg(() => zeros([3]).gather(0, tensor([3])), /index 3 is out of bounds for dimension 0 with size 3/);
    assertThrowsMsg(() => zeros([3]).index([tensor([5])]), /index 5 is out of bounds for dimension 0 with size 3/);
    assertThrowsMsg(() => zeros([3]).topk(5), /selected index k out of range/);
    assertThrowsMsg(() => randint(5, 2, [3]), /'from' to be less than 'to'/);
    assertThrowsMsg(() => randperm(-1), /negative dimension/);
    assertThrowsMsg(() => linspace(0, 1, -1), /number of steps must be non-negative/);
  });
});

test('disposed tensors are refused, as receiver or argument, through the typed API and raw handles', () => {
  const t = zeros([2]);
  const h = t.handle;
  t.dispose();
  assert.equal(t.isDisposed, true);
  t.dispose(); // idempotent
  assertThrowsMsg(() => t.add(1), /tensor was disposed/);
  assertThrowsMsg(() => t.shape, /tensor was disposed/);
  tidy(() => {
    assertThrowsMsg(() => ones([2]).add(t), /tensor was disposed/);
    assertThrowsMsg(() => cat([ones([2]), t]), /tensor was disposed/);
  });
  // The native layer checks ids by generation, so a stale handle cannot reach freed memory even
  // after its slot has been reused by a new tensor.
  const reuse = tidy(() => [zeros([1]), zeros([1]), zeros([1])]);
  assertThrowsMsg(() => (native.add as (...a: unknown[]) => unknown)(h, 1), /tensor was disposed \(argument 0\)/);
  assertThrowsMsg(
    () => (native.cat as (hs: unknown[], d: number) => unknown)([h], 0),
    /tensor was disposed \(argument 0, element 0\)/,
  );
  // Handles are BigInts: ones that were never ours (negative, wider than 64 bits, unknown slot) are
  // refused the same way, and other kinds of native object are not taken for tensors.
  for (const bogus of [-1n, 2n ** 70n, 2n ** 40n + 12345n]) {
    assertThrowsMsg(() => (native.add as (...a: unknown[]) => unknown)(bogus, 1), /tensor was disposed \(argument 0\)/);
  }
  const gen = new Generator(1);
  assertThrowsMsg(() => (native.add as (...a: unknown[]) => unknown)(gen.handle, 1), /argument 0: expected a tensor/);
  assert.equal(native.dispose(h), false, 'disposing a stale id is a checked no-op');
  assert.equal(native.isDisposed(h), true);
  dispose(reuse);
});

test('wrong argument types throw TypeErrors naming the argument, never crash', () => {
  tidy(() => {
    const x = zeros([2, 2]);
    const any = x as unknown as Record<string, (...a: unknown[]) => unknown>;
    assertThrowsMsg(() => any.add!.call(x, 'a'), /argument 1: expected a number/);
    assertThrowsMsg(() => any.sum!.call(x, 'x'), /argument 1: expected an array of integers/);
    assertThrowsMsg(() => x.reshape(2.5), /argument 1: expected an array of integers/);
    assertThrowsMsg(() => x.narrow(0, 0.5, 1), /argument 2: expected an integer/);
    assertThrowsMsg(() => x.narrow(0, NaN, 1), /argument 2: expected an integer/);
    assertThrowsMsg(() => any.index!.call(x, [1, 2]), /expected an array of tensors or nulls/);
    assertThrowsMsg(() => x.index([null, null]), /expected at least one index tensor/);
    assertThrowsMsg(() => x.indexPut([null], 1), /expected at least one index tensor/);
    assertThrowsMsg(
      () => F.mseLoss(x, x, 'bogus' as 'sum'),
      /reduction must be 'none' \| 'mean' \| 'sum', got 'bogus'/,
    );
    assertThrowsMsg(() => F.dropout(x, 2), /p must be in \[0, 1\], got 2/);
    assertThrowsMsg(() => (native.add as (...a: unknown[]) => unknown)({}, 1), /argument 0: expected a tensor/);
    assertThrowsMsg(
      () => (native.fromBuffer as (...a: unknown[]) => unknown)('x', 6, [1]),
      /expected a TypedArray or ArrayBuffer/,
    );
    assertThrowsMsg(() => native.zeros([1], 99), /argument 1: expected a supported dtype code/);
    // A tensor where a generator belongs used to be dereferenced as a generator (a segfault).
    assertThrowsMsg(() => zeros([3]).uniform_(0, 1, x), /argument 3: expected a generator/);
    assertThrowsMsg(() => rand([2], { generator: x as unknown as Generator }), /expected a generator/);
    assertThrowsMsg(() => x.to('complex128' as 'float32'), /unknown dtype/);
    // Assigning a gradient of the wrong shape or dtype is refused, as in PyTorch.
    const p = zeros([3], { requiresGrad: true });
    assertThrowsMsg(() => {
      p.grad = zeros([2]);
    }, /assigned grad has data of a different size/);
    assertThrowsMsg(() => {
      p.grad = zeros([3], { dtype: 'float64' });
    }, /assigned grad has data of a different type/);
    assertThrowsMsg(
      () => zeros([2], { requiresGrad: true }).add_(1),
      /a leaf Variable that requires grad is being used in an in-place operation/,
    );
  });
});

test("cuda(): moves to the GPU when libtorch has one, else throws libtorch's backend error", () => {
  tidy(() => {
    if (buildInfo().cudaAvailable) {
      const g = zeros([2]).add(1).cuda();
      assert.equal(g.device, 'cuda:0');
      assert.deepEqual(g.cpu().dataNumbers(), [1, 1]);
    } else {
      assertThrowsMsg(() => zeros([1]).cuda(), /CUDA/);
      assertThrowsMsg(() => zeros([1]).to('cuda:0'), /CUDA/);
    }
  });
});

test('batchNorm in training refuses one value per channel, like F.batch_norm', () => {
  tidy(() => {
    assertThrowsMsg(
      () => F.batchNorm(zeros([1, 3]), null, null, { training: true }),
      /Expected more than 1 value per channel when training/,
    );
    assertThrowsMsg(() => new nn.BatchNorm2d(2).forward(zeros([1, 2, 1, 1])), /Expected more than 1 value per channel/);
    // In eval mode a single sample is fine.
    assert.deepEqual(F.batchNorm(zeros([1, 3]), zeros([3]), ones([3]), { training: false }).shape, [1, 3]);
  });
});

// ---- tidy semantics ----

test('tidy: returned tensors survive, the rest is disposed', () => {
  const before = liveTensors();
  let inner: Tensor | undefined;
  const kept = tidy(() => {
    inner = zeros([3]);
    const y = inner.add(1);
    return y.mul(2);
  });
  assert.equal(inner!.isDisposed, true);
  assert.equal(kept.isDisposed, false);
  assert.deepEqual(kept.dataNumbers(), [2, 2, 2]);
  assert.equal(liveTensors(), before + 1);
  kept.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy: results inside arrays, plain objects and Maps survive; non-tensor results pass through', () => {
  const before = liveTensors();
  const r = tidy(() => {
    const a = zeros([1]),
      b = ones([1]),
      c = zeros([2]);
    zeros([5]); // dropped
    return { list: [a, { deep: b }], map: new Map([['c', c]]), n: 3 };
  });
  assert.equal(r.n, 3);
  assert.equal(liveTensors(), before + 3);
  dispose(r);
  assert.equal(liveTensors(), before);
  assert.equal(
    tidy(() => {
      zeros([1]);
      return 'ok';
    }),
    'ok',
  );
  assert.equal(liveTensors(), before);
});

test('tidy: nested scopes hand a returned tensor to the enclosing scope', () => {
  const before = liveTensors();
  let fromInner: Tensor | undefined;
  let escaped: Tensor | undefined;
  const outer = tidy(() => {
    fromInner = tidy(() => {
      zeros([9]);
      return ones([2]);
    });
    assert.equal(fromInner.isDisposed, false, 'the inner result lives on in the outer scope');
    escaped = tidy(() => tidy(() => zeros([4])));
    return escaped.add(fromInner.sum());
  });
  assert.equal(fromInner!.isDisposed, true, 'the outer scope disposed it because it did not return it');
  assert.equal(escaped!.isDisposed, true);
  assert.deepEqual(outer.dataNumbers(), [2, 2, 2, 2]);
  outer.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy: an exception disposes everything created in the scope and propagates', () => {
  const before = liveTensors();
  let made: Tensor | undefined;
  assert.throws(
    () =>
      tidy(() => {
        made = zeros([3]);
        tidy(() => ones([2]));
        zeros([2]).add(zeros([3])); // shape mismatch
        return made;
      }),
    /must match the size/,
  );
  assert.equal(made!.isDisposed, true);
  assert.equal(liveTensors(), before);
  // A nested throw leaves the outer scope usable.
  const ok = tidy(() => {
    const a = ones([1]);
    try {
      tidy(() => {
        zeros([1]);
        throw new Error('inner');
      });
    } catch {
      /* expected */
    }
    return a;
  });
  assert.equal(ok.isDisposed, false);
  ok.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy: keep() exempts a tensor, async functions are refused', () => {
  const before = liveTensors();
  let k: Tensor | undefined;
  tidy(() => {
    k = keep(zeros([2]));
    zeros([2]);
  });
  assert.equal(k!.isDisposed, false);
  k!.dispose();
  assert.throws(() => tidy(() => Promise.resolve(zeros([1]))), /fn returned a Promise/);
  assert.equal(liveTensors(), before, 'the refused async scope still disposed its tensors');
  // Parameters created inside tidy survive it: Module registration keeps them.
  const lin = tidy(() => new nn.Linear(2, 2));
  assert.equal(lin.weight.isDisposed, false);
  lin.dispose();
  assert.equal(liveTensors(), before);
});

test('tensors that are dropped without dispose are freed by the GC backstop', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const settle = async (): Promise<void> => {
    // Registration is deferred to a setImmediate; finalizers run after a collection, asynchronously.
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setTimeout(r, 10));
  };
  // Earlier tests may have dropped tensors too: collect them first so the baseline is stable.
  for (let i = 0; i < 5; i++) await settle();
  const before = liveTensors();
  (() => {
    for (let i = 0; i < 200; i++) zeros([4]);
  })();
  assert.equal(liveTensors(), before + 200);
  for (let i = 0; i < 50 && liveTensors() > before; i++) await settle();
  assert.equal(liveTensors(), before);
});
