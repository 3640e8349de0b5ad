// Tensor creation, dtypes, metadata and read-back, and seeded randomness (compared with the
// streams of PyTorch's torch.Generator().manual_seed(s), which libtorch's C++ generator reproduces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  zeros,
  ones,
  full,
  empty,
  eye,
  arange,
  linspace,
  zerosLike,
  onesLike,
  fullLike,
  rand,
  randn,
  randint,
  randperm,
  bernoulli,
  multinomial,
  Generator,
  manualSeed,
  getRngState,
  setRngState,
  tidy,
  liveTensors,
  type DType,
  type Tensor,
} from '../../src/engine/index.js';
import {
  loadFixture,
  fromFix,
  assertMatches,
  assertClose,
  assertMatchesValue,
  type FixTensor,
  type FixValue,
} from './engine-helpers.js';

test('tensor(): dtype inference from nested arrays and scalars, like torch.tensor', () => {
  tidy(() => {
    const ints = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(ints.dtype, 'int64');
    assert.deepEqual(ints.shape, [2, 3]);
    assert.deepEqual(ints.tolist(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const floats = tensor([1, 2.5]);
    assert.equal(floats.dtype, 'float32', 'one non-integer makes the tensor float32');
    assert.deepEqual(floats.tolist(), [1, 2.5]);
    const bools = tensor([[true, false]]);
    assert.equal(bools.dtype, 'bool');
    assert.deepEqual(bools.tolist(), [[true, false]], 'bool tensors read back as booleans');
    const s = tensor(3.5);
    assert.deepEqual(s.shape, [], 'a JS number gives a 0-d tensor');
    assert.equal(s.item(), 3.5);
    assert.equal(tensor(7).dtype, 'int64');
    assert.equal(tensor(true).dtype, 'bool');
    const e = tensor([]);
    assert.deepEqual([e.shape, e.dtype], [[0], 'float32'], 'torch.tensor([]) is float32 of shape [0]');
    assert.deepEqual(tensor([[], []]).shape, [2, 0]);
    const forced = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    assert.equal(forced.dtype, 'float64');
    assert.equal(forced.requiresGrad, true);
    // Mixed booleans and numbers are numbers (true → 1), as torch.tensor([True, 2]) gives int64.
    assert.deepEqual([tensor([true, 2]).dtype, tensor([true, 2]).tolist()], ['int64', [1, 2]]);
    assert.equal(tensor([true, 2.5]).dtype, 'float32');
  });
});

test('tensor(): ragged arrays and non-numeric elements are refused with clear errors', () => {
  assert.throws(() => tensor([[1, 2], [3]]), /ragged nested array at data\[1\]/);
  assert.throws(() => tensor([1, 'x' as unknown as number]), /element 1 is string/);
  assert.throws(() => tensor([[1], 2] as never), /ragged/);
  assert.throws(() => tensor([1, [2]] as never), /ragged nested array at data\[1\] \(shape \[1\] vs \[\]\)/);
  assert.throws(
    () =>
      tensor([
        [
          [1, 2],
          [3, 4],
        ],
        [[5, 6], [7]],
      ]),
    /ragged nested array at data\[1\]\[1\]/,
  );
  // eslint-disable-next-line no-sparse-arrays
  assert.throws(() => tensor([1, , 3] as unknown as number[]), /element 1 is undefined/);
  assert.throws(
    () =>
      tensor([
        [1, 2],
        [3, null as unknown as number],
      ]),
    /element 3 is object/,
  );
});

test('tensor(): large nested arrays keep row-major order and infer their dtype from every element', () => {
  tidy(() => {
    const rows = Array.from({ length: 300 }, (_, r) => Array.from({ length: 200 }, (_, c) => r * 200 + c));
    const t = tensor(rows);
    assert.deepEqual([t.shape, t.dtype], [[300, 200], 'int64']);
    assert.deepEqual(
      t.flatten().tolist(),
      Array.from({ length: 60000 }, (_, i) => i),
    );
    rows[299]![199] = 0.5; // one non-integer anywhere makes the whole tensor float32
    assert.equal(tensor(rows).dtype, 'float32');
  });
});

test('tensor(): TypedArrays keep their element type and are copied', () => {
  tidy(() => {
    const cases: [ArrayLike<number> | BigInt64Array, DType][] = [
      [new Float32Array([1.5, -2]), 'float32'],
      [new Float64Array([1e-300, 2]), 'float64'],
      [new Int32Array([-7, 9]), 'int32'],
      [new Uint8Array([0, 255]), 'uint8'],
      [new Int8Array([-128, 127]), 'int8'],
      [new Int16Array([-300, 300]), 'int16'],
    ];
    for (const [arr, d] of cases) {
      const t = tensor(arr as Float32Array);
      assert.equal(t.dtype, d);
      assert.deepEqual(t.dataNumbers(), Array.from(arr as ArrayLike<number>), d);
      assert.equal(
        (t.data() as object).constructor,
        (arr as object).constructor,
        `${d} reads back into the same TypedArray type`,
      );
    }
    const big = BigInt64Array.from([2n ** 62n + 1n, -5n]);
    const tb = tensor(big);
    assert.equal(tb.dtype, 'int64');
    assert.deepEqual(Array.from(tb.data() as BigInt64Array), Array.from(big), 'int64 beyond 2^53 survives as BigInt');
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const m = tensor(src, { shape: [2, 3] });
    src[0] = 100;
    assert.deepEqual(
      m.tolist(),
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'the data were copied, not shared',
    );
    // A view with a byte offset reads from its own window of the buffer.
    const view = new Float32Array(src.buffer, 8, 2);
    assert.deepEqual(tensor(view).dataNumbers(), [3, 4]);
    assert.equal(tensor(new Int32Array([1, 2]), { dtype: 'float64' }).dtype, 'float64');
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /shape needs 24 bytes, buffer has 20/);
    assert.throws(
      () => tensor(new Uint8ClampedArray(2) as unknown as Uint8Array),
      /unsupported TypedArray Uint8ClampedArray/,
    );
  });
});

test('zeros / ones / full / empty / eye / *Like: shapes, dtypes and values', () => {
  tidy(() => {
    const z = zeros([2, 3]);
    assert.deepEqual([z.dtype, z.shape, z.dataNumbers()], ['float32', [2, 3], [0, 0, 0, 0, 0, 0]]);
    assert.deepEqual(ones([2], { dtype: 'int32' }).data(), new Int32Array([1, 1]));
    assert.deepEqual(zeros([]).shape, []);
    assert.deepEqual(zeros([0, 4]).numel(), 0);
    const f = full([2, 2], 2.5);
    assert.deepEqual([f.dtype, f.dataNumbers()], ['float32', [2.5, 2.5, 2.5, 2.5]]);
    assert.equal(full([1], true).dtype, 'bool', 'a boolean fill value gives bool');
    assert.equal(full([1], 3, 'int64').item(), 3);
    assert.equal(full([1], 3, undefined, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(empty([3, 1], { dtype: 'float64' }).shape, [3, 1]);
    assert.deepEqual(eye(3).tolist(), [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    assert.deepEqual(eye(2, 3, { dtype: 'int64' }).tolist(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    const base = tensor([[1, 2]], { dtype: 'int32' });
    assert.deepEqual([zerosLike(base).dtype, zerosLike(base).shape], ['int32', [1, 2]]);
    assert.deepEqual(onesLike(base, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(fullLike(base, 9).tolist(), [[9, 9]]);
    assert.equal(fullLike(base, 9).dtype, 'int32');
    assert.equal(zeros([2], { requiresGrad: true }).requiresGrad, true);
  });
});

test('arange and linspace follow torch: integer arguments give int64, the end is excluded', () => {
  tidy(() => {
    const a = arange(5);
    assert.deepEqual([a.dtype, a.dataNumbers()], ['int64', [0, 1, 2, 3, 4]]);
    assert.deepEqual(arange(2, 11, 3).dataNumbers(), [2, 5, 8]);
    assert.deepEqual(arange(5, 0, -2).dataNumbers(), [5, 3, 1]);
    const f = arange(0, 1, 0.25);
    assert.deepEqual([f.dtype, f.dataNumbers()], ['float32', [0, 0.25, 0.5, 0.75]]);
    assert.equal(arange(3, undefined, 1, { dtype: 'float64' }).dtype, 'float64');
    const l = linspace(-1, 1, 5);
    assert.deepEqual([l.dtype, l.dataNumbers()], ['float32', [-1, -0.5, 0, 0.5, 1]]);
    assert.deepEqual(linspace(0, 1, 1).dataNumbers(), [0]);
    assertClose(linspace(0, 1, 4, { dtype: 'float64' }).dataNumbers(), [0, 1 / 3, 2 / 3, 1], 'linspace f64', {
      rtol: 1e-15,
      atol: 0,
    });
  });
});

test('dtype round trips: every supported dtype stores, converts and reads back', () => {
  tidy(() => {
    const exact: Record<DType, number[]> = {
      float32: [1.5, -2.25, 1e10],
      float64: [0.1, -1e-300, 1e300],
      int64: [-3, 0, 2 ** 40],
      int32: [-2147483648, 0, 2147483647],
      int16: [-32768, 1, 32767],
      int8: [-128, 0, 127],
      uint8: [0, 1, 255],
      bool: [1, 0, 1],
      // float16 and bfloat16 hold these exactly (few mantissa bits).
      float16: [0.5, -2, 1024],
      bfloat16: [0.5, -2, 1.5e10 - (1.5e10 % 2 ** 26)],
    };
    for (const [d, vals] of Object.entries(exact) as [DType, number[]][]) {
      const t = tensor(vals, { dtype: d });
      assert.equal(t.dtype, d);
      assert.deepEqual(t.dataNumbers(), vals, `${d} stores ${vals}`);
      const back = t.to('float64').to(d);
      assert.deepEqual(back.dataNumbers(), vals, `${d} → float64 → ${d}`);
      assert.equal(t.to('float32').dtype, 'float32');
    }
    // Rounding as in PyTorch: torch.tensor(0.1, dtype=torch.half) == 0.0999755859375, bfloat16 0.10009765625.
    assert.equal(tensor([0.1], { dtype: 'float16' }).item(), 0.0999755859375);
    assert.equal(tensor([0.1], { dtype: 'bfloat16' }).item(), 0.10009765625);
    assert.equal(tensor([70000], { dtype: 'float16' }).item(), Infinity, 'float16 overflows to inf');
    assert.ok(
      tensor([0.5], { dtype: 'float16' }).data() instanceof Float32Array,
      'half types read back as Float32Array',
    );
    // Casting to integers truncates toward zero, to bool tests non-zero, uint8 wraps.
    assert.deepEqual(tensor([-1.7, 2.9]).to('int64').dataNumbers(), [-1, 2]);
    assert.deepEqual(tensor([0, -0.5, 3]).to('bool').tolist(), [false, true, true]);
    assert.deepEqual(tensor([-1, 256], { dtype: 'int32' }).to('uint8').dataNumbers(), [255, 0]);
    // The shorthands.
    const x = tensor([1.5]);
    assert.deepEqual(
      [x.double().dtype, x.long().dtype, x.int().dtype, x.bool().dtype, x.long().float().dtype],
      ['float64', 'int64', 'int32', 'bool', 'float32'],
    );
    assert.throws(() => x.to('complex64' as DType), /unknown dtype 'complex64'/);
  });
});

test('metadata: shape, strides, ndim, numel, size, contiguity, device, toString, item, tolist', () => {
  tidy(() => {
    const t = arange(24).reshape(2, 3, 4);
    assert.deepEqual([t.shape, t.ndim, t.numel(), t.strides], [[2, 3, 4], 3, 24, [12, 4, 1]]);
    assert.deepEqual([t.size(), t.size(0), t.size(-1)], [[2, 3, 4], 2, 4]);
    assert.throws(() => t.size(3), /size\(3\): tensor has 3 dims/);
    assert.throws(() => t.size(-4), RangeError);
    const tr = t.transpose(0, 2);
    assert.deepEqual(tr.strides, [1, 4, 12], 'transpose is a strided view');
    assert.equal(tr.isContiguous(), false);
    assert.equal(tr.contiguous().isContiguous(), true);
    assert.deepEqual(tr.contiguous().strides, [6, 2, 1]);
    assert.equal(t.device, 'cpu');
    assert.equal(String(t), 'Tensor(shape=[2, 3, 4], dtype=int64, device=cpu)');
    assert.equal(tensor([[2.5]]).item(), 2.5);
    assert.equal(tensor([true]).item(), 1, 'item() of a bool is 0/1');
    assert.throws(() => t.item(), /item\(\): tensor has 24 elements, expected 1/);
    // Views share storage: data() of a non-contiguous view is still in logical order.
    assert.deepEqual(tr.select(0, 1).dataNumbers(), [1, 13, 5, 17, 9, 21]);
    assert.deepEqual(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float32' },
      ).tolist(),
      [
        [1, 2],
        [3, 4],
      ],
    );
    assert.deepEqual(tensor(5).tolist(), 5);
  });
});

// ---- randomness ----

interface RandomFixture {
  cases: Record<string, { seed: number; values: FixValue; probs?: FixTensor }>;
}
const rfx = loadFixture<RandomFixture>('random.json');
const rcase = (name: string): { seed: number; values: FixValue; probs?: FixTensor } => rfx.cases[name]!;

test('rand / randn / randint / randperm with a seeded Generator equal torch.Generator().manual_seed(s)', () => {
  tidy(() => {
    const draws: Record<string, (g: Generator) => Tensor> = {
      'rand.f32.seed0': (g) => rand([3, 4], { generator: g }),
      'rand.f64.seed42': (g) => rand([20], { dtype: 'float64', generator: g }),
      'randn.f32.seed7.small': (g) => randn([5], { generator: g }),
      'randn.f32.seed7.large': (g) => randn([4, 8], { generator: g }),
      'randn.f64.seed11': (g) => randn([20], { dtype: 'float64', generator: g }),
      'randint.seed5': (g) => randint(-3, 10, [8], { generator: g }),
      'randperm.seed3.n10': (g) => randperm(10, { generator: g }),
      'randperm.seed3.n100': (g) => randperm(100, { generator: g }),
    };
    for (const [name, draw] of Object.entries(draws)) {
      const c = rcase(name);
      // Bit-equal: the same libtorch generator and kernels, so no tolerance.
      assertMatches(draw(new Generator(c.seed)), c.values as FixTensor, name, { rtol: 0, atol: 0 });
    }
  });
});

test('a Generator stream continues across calls and across kinds of draw, as in PyTorch', () => {
  tidy(() => {
    const c = rcase('sequence.seed2024');
    const g = new Generator(c.seed);
    assertMatchesValue(
      [rand([3], { generator: g }), randn([3], { generator: g }), randperm(6, { generator: g })],
      c.values,
      'sequence',
      { rtol: 0, atol: 0 },
    );
    const ci = rcase('inplace.seed9');
    const g2 = new Generator(ci.seed);
    const u = empty([6]).uniform_(-1, 2, g2);
    const n = empty([6]).normal_(3, 0.5, g2);
    assertMatchesValue([u, n], ci.values, 'uniform_/normal_', { rtol: 0, atol: 0 });
    const cb = rcase('bernoulli.seed13');
    assertMatches(
      bernoulli(fromFix(cb.probs!), undefined, new Generator(cb.seed)),
      cb.values as FixTensor,
      'bernoulli',
      { rtol: 0, atol: 0 },
    );
    const cm = rcase('multinomial.seed17');
    assertMatches(
      multinomial(fromFix(cm.probs!), 3, false, new Generator(cm.seed)),
      cm.values as FixTensor,
      'multinomial',
      { rtol: 0, atol: 0 },
    );
  });
});

test('manualSeed seeds the global stream exactly like torch.manual_seed', () => {
  tidy(() => {
    const c = rcase('global.seed123');
    manualSeed(c.seed);
    assertMatchesValue([rand([4]), randn([4]), randint(0, 100, [4])], c.values, 'global', { rtol: 0, atol: 0 });
  });
});

test('same seed → same values; different seeds or continued streams → different values', () => {
  tidy(() => {
    const a = randn([16], { generator: new Generator(99) }).dataNumbers();
    const b = randn([16], { generator: new Generator(99) }).dataNumbers();
    const c = randn([16], { generator: new Generator(100) }).dataNumbers();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const g = new Generator(99);
    randn([16], { generator: g });
    assert.notDeepEqual(randn([16], { generator: g }).dataNumbers(), a, 'the second draw continues the stream');
    // A private generator does not disturb the global stream.
    manualSeed(1);
    const g1 = rand([3]).dataNumbers();
    manualSeed(1);
    rand([3], { generator: new Generator(5) });
    assert.deepEqual(rand([3]).dataNumbers(), g1);
    // randint bounds, bernoulli with a constant p, randperm is a permutation.
    const r = randint(2, 5, [200], { generator: new Generator(3) }).dataNumbers();
    assert.ok(r.every((v) => v >= 2 && v < 5) && new Set(r).size === 3);
    assert.deepEqual(
      randperm(50, { generator: new Generator(4) })
        .sort()
        .values.dataNumbers(),
      arange(50).dataNumbers(),
    );
    const bern = bernoulli(0.5, [1000], new Generator(8)).mean().item();
    assert.ok(bern > 0.4 && bern < 0.6, `bernoulli(0.5) mean ${bern}`);
    assert.equal(bernoulli(1, [4]).sum().item(), 4);
    assert.equal(rand([2], { dtype: 'float64' }).dtype, 'float64');
    assert.equal(randn([2], { requiresGrad: true }).requiresGrad, true);
  });
});

test('generator state: getState/setState and the global getRngState/setRngState resume bit for bit', () => {
  tidy(() => {
    const g = new Generator(12);
    rand([5], { generator: g });
    const state = g.getState();
    assert.equal(state.dtype, 'uint8');
    const first = randn([10], { generator: g }).dataNumbers();
    g.setState(state);
    assert.deepEqual(randn([10], { generator: g }).dataNumbers(), first);
    const gs = getRngState();
    const x = rand([7]).dataNumbers();
    setRngState(gs);
    assert.deepEqual(rand([7]).dataNumbers(), x);
    assert.throws(() => new Generator(-1), /non-negative safe integer/);
    assert.throws(() => new Generator(1.5), RangeError);
    assert.throws(() => manualSeed(-3), /non-negative safe integer/);
  });
});

test('creation inside tidy leaves no tensors behind', () => {
  const before = liveTensors();
  tidy(() => {
    tensor([[1, 2]]);
    zeros([3]);
    arange(4);
    linspace(0, 1, 3);
    eye(2);
    rand([2]);
    randperm(3);
    tensor(new Float32Array(2), { dtype: 'float64' });
  });
  assert.equal(liveTensors(), before);
});
