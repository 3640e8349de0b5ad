// profile(): libtorch's legacy autograd profiler, aggregated per op name like PyTorch's key_averages().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  randn,
  profile,
  profilerRunning,
  formatProfile,
  tidy,
  type OpStat,
  type Tensor,
} from '../../src/engine/index.js';
import { native } from '../../src/engine/native.js';

// Three adds and two matrix products in the forward pass, a backward through them.
function step(a: Tensor, b: Tensor): void {
  tidy(() => {
    const c = a.mm(b);
    const d = c.add(a);
    const e = d.mm(b);
    const f = e.add(d);
    const g = f.add(a);
    g.sum().backward();
  });
}

const byName = (ops: readonly OpStat[]): Map<string, OpStat> => new Map(ops.map((o) => [o.name, o]));

test('profile counts the ops of a forward and backward pass as PyTorch does', () => {
  const a = randn([8, 8], { requiresGrad: true });
  const b = randn([8, 8], { requiresGrad: true });
  const { result, ops } = profile(() => {
    step(a, b);
    return 42;
  });
  assert.equal(result, 42);
  const m = byName(ops);
  // Expected counts from running the same computation once under PyTorch 2.13's
  // torch.autograd.profiler_legacy.profile() (and torch.autograd.profiler.profile(), which agrees):
  // aten::add 5 (3 forward, 2 where backward sums two gradients into a new tensor) and aten::add_ 2
  // (gradients summed in place; the leaves' first .grad is a detached copy, not an add), aten::mm 6
  // (2 forward, 2 per MmBackward0), the rest of the autograd graph as listed.
  const expected: [string, number][] = [
    ['aten::add', 5],
    ['aten::add_', 2],
    ['aten::mm', 6],
    ['aten::sum', 1],
    ['aten::ones_like', 1],
    ['aten::t', 4],
    ['AddBackward0', 3],
    ['MmBackward0', 2],
    ['SumBackward0', 1],
    ['torch::autograd::AccumulateGrad', 2],
    ['autograd::engine::evaluate_function: MmBackward0', 2],
  ];
  for (const [name, calls] of expected) assert.equal(m.get(name)?.calls, calls, `${name} calls`);
  for (const o of ops) {
    assert.ok(o.calls > 0, o.name);
    assert.ok(o.selfCpuUs >= 0, `${o.name}: self ${o.selfCpuUs} µs`);
    assert.ok(o.selfCpuUs <= o.cpuTotalUs, `${o.name}: self ${o.selfCpuUs} > total ${o.cpuTotalUs} µs`);
    assert.equal(o.inputShapes, undefined);
  }
  // MmBackward0's two products are its children: its self time excludes them.
  const mmb = m.get('MmBackward0')!;
  assert.ok(mmb.selfCpuUs < mmb.cpuTotalUs);
  // Sorted by self time.
  for (let i = 1; i < ops.length; i++) assert.ok(ops[i - 1]!.selfCpuUs >= ops[i]!.selfCpuUs);
  const table = formatProfile(ops, { limit: 5 });
  assert.match(table, /aten::mm/);
  assert.match(table, /more\)/);
  a.dispose();
  b.dispose();
});

test('recordShapes groups the ops by their inputs’ shapes', () => {
  const a = randn([8, 4]);
  const b = randn([4, 3]);
  const { ops } = profile(
    () =>
      tidy(() => {
        a.mm(b);
        a.mm(b);
        a.t().mm(a);
      }),
    { recordShapes: true },
  );
  const mm = ops.filter((o) => o.name === 'aten::mm');
  assert.deepEqual(
    mm.map((o) => [o.calls, o.inputShapes]).sort((x, y) => Number(y[0]) - Number(x[0])),
    [
      [
        2,
        [
          [8, 4],
          [4, 3],
        ],
      ],
      [
        1,
        [
          [4, 8],
          [8, 4],
        ],
      ],
    ],
  );
  a.dispose();
  b.dispose();
});

test('starting twice or stopping when not started throws a JS error', () => {
  assert.equal(profilerRunning(), false);
  assert.throws(() => native.profilerStop(), /profilerStop: the profiler is not running/);
  // A profile inside a profile: the inner start fails, the outer one still stops and reports.
  const outer = profile(() => {
    assert.throws(() => profile(() => 1), /profilerStart: the profiler is already running/);
    return profilerRunning();
  });
  assert.equal(outer.result, true);
  assert.equal(profilerRunning(), false);
  assert.throws(() => native.profilerStop(), /not running/);
});

test('the profiler is off after fn throws, and can run again', () => {
  const a = randn([4, 4]);
  assert.throws(
    () =>
      profile(() => {
        tidy(() => a.add(a));
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(profilerRunning(), false);
  // A native error inside fn, too.
  assert.throws(() => profile(() => tidy(() => a.mm(randn([3, 3])))), /mat1 and mat2 shapes cannot be multiplied/);
  assert.equal(profilerRunning(), false);
  // An async fn is refused (its continuation would run unprofiled), the profiler stopped.
  assert.throws(() => profile(() => Promise.resolve(1)), TypeError);
  assert.equal(profilerRunning(), false);
  const { ops } = profile(() => tidy(() => a.add(a).sum()));
  assert.equal(byName(ops).get('aten::add')?.calls, 1);
  assert.equal(byName(ops).get('aten::sum')?.calls, 1);
  a.dispose();
});
