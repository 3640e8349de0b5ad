// optim: SGD (momentum, dampening, Nesterov, weight decay, maximize, per-group options), Adam and
// AdamW trajectories on fixed gradients equal torch.optim's (optim.json, to 1e-6), LR schedules equal
// torch's schedulers, and optimizer/scheduler state dicts resume a run identically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optim, tidy, liveTensors, zeros, type Tensor } from '../../../src/engine/index.js';
import { loadFixture, fromFix, assertMatches, assertClose, type FixTensor } from '../engine-helpers.js';

type Kind = 'SGD' | 'Adam' | 'AdamW';
interface OptCase {
  kind: Kind;
  options: Record<string, unknown>;
  groups?: Record<string, unknown>[];
  trajectory: FixTensor[][];
}
interface OptimFixture {
  params: FixTensor[];
  grads: FixTensor[][];
  cases: Record<string, OptCase>;
  schedules: Record<string, number[]>;
}
const fx = loadFixture<OptimFixture>('optim.json');

type AnyOpt = optim.Optimizer<{ lr: number }>;
function makeOptimizer(
  kind: Kind,
  params: Tensor[],
  options: Record<string, unknown>,
  groups?: Record<string, unknown>[],
): AnyOpt {
  const arg = groups ? groups.map((g, i) => ({ ...g, params: [params[i]!] })) : params;
  if (kind === 'SGD') return new optim.SGD(arg as never, options as { lr: number }) as unknown as AnyOpt;
  if (kind === 'Adam') return new optim.Adam(arg as never, options) as unknown as AnyOpt;
  return new optim.AdamW(arg as never, options) as unknown as AnyOpt;
}
const freshParams = (): Tensor[] => fx.params.map((p) => fromFix(p, { requiresGrad: true }));
function setGrads(params: Tensor[], step: number): void {
  params.forEach((p, i) => {
    p.grad = fromFix(fx.grads[step % fx.grads.length]![i]!);
  });
}

for (const [name, c] of Object.entries(fx.cases)) {
  test(`${name}: ${c.trajectory.length} steps equal torch.optim.${c.kind} to 1e-6`, () => {
    const before = liveTensors();
    const params = freshParams();
    const opt = makeOptimizer(c.kind, params, c.options, c.groups);
    c.trajectory.forEach((expected, s) =>
      tidy(() => {
        setGrads(params, s);
        opt.step();
        params.forEach((p, i) =>
          assertMatches(p, expected[i]!, `${name} step ${s + 1} param ${i}`, { rtol: 0, atol: 1e-6 }),
        );
      }),
    );
    opt.dispose();
    params.forEach((p) => p.dispose());
    assert.equal(liveTensors(), before, `${name}: optimizer state and gradients freed`);
  });
}

test('optimizer stateDict/loadStateDict: a resumed optimizer continues identically', () => {
  for (const name of ['sgd.groups', 'sgd.nesterov', 'adam.groups', 'adamw.custom']) {
    tidy(() => {
      const c = fx.cases[name]!;
      const a = freshParams();
      const optA = makeOptimizer(c.kind, a, c.options, c.groups);
      for (let s = 0; s < 3; s++) {
        setGrads(a, s);
        optA.step();
      }
      const sd = optA.stateDict();
      assert.ok(sd.state.size > 0, `${name}: the state dict holds the optimizer state`);
      // A new optimizer over copies of the parameters, loaded from the state dict...
      const b = a.map((p) => p.detach().clone().requiresGrad_(true));
      const optB = makeOptimizer(
        c.kind,
        b,
        { ...c.options, lr: 123 },
        c.groups?.map((g) => ({ ...g, lr: 456 })),
      );
      optB.loadStateDict(sd);
      assert.deepEqual(
        optB.paramGroups.map((g) => g.lr),
        optA.paramGroups.map((g) => g.lr),
        'group options restored',
      );
      // ...and one that starts from scratch, to show the state matters.
      const fresh = a.map((p) => p.detach().clone().requiresGrad_(true));
      const optC = makeOptimizer(c.kind, fresh, c.options, c.groups);
      for (let s = 3; s < 6; s++) {
        setGrads(a, s);
        setGrads(b, s);
        setGrads(fresh, s);
        optA.step();
        optB.step();
        optC.step();
      }
      a.forEach((p, i) =>
        assert.deepEqual(b[i]!.dataNumbers(), p.dataNumbers(), `${name} param ${i}: resumed run is bit-identical`),
      );
      assert.notDeepEqual(fresh[0]!.dataNumbers(), a[0]!.dataNumbers(), `${name}: without the state the run differs`);
      for (const t of sd.state.values()) t.dispose();
      for (const o of [optA, optB, optC]) o.dispose();
      for (const p of [...a, ...b, ...fresh]) p.dispose();
    });
  }
});

test('optimizer state dict keys follow parameter order; bad state dicts are refused', () => {
  tidy(() => {
    const params = freshParams();
    const sgd = new optim.SGD(params, { lr: 0.1, momentum: 0.9 });
    setGrads(params, 0);
    sgd.step();
    assert.deepEqual([...sgd.stateDict().state.keys()], ['0.momentum_buffer', '1.momentum_buffer']);
    const adam = new optim.Adam(params, { lr: 0.1 });
    adam.step();
    assert.deepEqual([...adam.stateDict().state.keys()].sort(), [
      '0.exp_avg',
      '0.exp_avg_sq',
      '0.step',
      '1.exp_avg',
      '1.exp_avg_sq',
      '1.step',
    ]);
    assert.deepEqual(adam.stateDict().groups, [
      { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupled: false },
    ]);
    assert.throws(() => adam.loadStateDict({ state: new Map(), groups: [] }), /optimizer has 1 groups, state dict 0/);
    assert.throws(
      () => adam.loadStateDict({ state: new Map([['7.exp_avg', zeros([1])]]), groups: adam.stateDict().groups }),
      /state key '7\.exp_avg' names no parameter/,
    );
    sgd.dispose();
    adam.dispose();
  });
});

test('SGD/Adam: zeroGrad, parameters without gradients are skipped, option validation', () => {
  tidy(() => {
    const [p, q] = freshParams();
    const qBefore = q!.dataNumbers();
    const sgd = new optim.SGD([p!, q!], { lr: 0.1, momentum: 0.9 });
    p!.grad = zeros(p!.shape).add(1);
    sgd.step();
    assert.deepEqual(q!.dataNumbers(), qBefore, 'a parameter without .grad is left alone, as in torch');
    sgd.zeroGrad();
    assert.equal(p!.grad, null);
    const adam = new optim.Adam([q!]);
    adam.step();
    assert.deepEqual(q!.dataNumbers(), qBefore);
    assert.throws(() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/);
    assert.throws(
      () => new optim.SGD([{ params: [p!] }, { params: [p!] }], { lr: 0.1 }),
      /appears in more than one group/,
    );
    assert.throws(() => new optim.SGD([p!], { lr: -1 }), /invalid lr -1/);
    assert.throws(
      () => new optim.SGD([p!], { lr: 0.1, nesterov: true }),
      /Nesterov momentum requires momentum > 0 and dampening = 0/,
    );
    assert.throws(() => new optim.SGD([p!], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(() => new optim.Adam([p!], { betas: [1, 0.9] }), /invalid beta 1/);
    assert.throws(() => new optim.Adam([p!], { eps: -1 }), /invalid eps/);
    const w = new optim.AdamW([p!]);
    assert.equal(w.paramGroups[0]!.weightDecay, 0.01, 'AdamW defaults to weight decay 0.01 like torch');
    assert.equal(w.paramGroups[0]!.decoupled, true);
    sgd.dispose();
    adam.dispose();
    w.dispose();
  });
});

// ---- LR schedules ----

function lrsOf(factor: optim.LrFactor, n: number): number[] {
  const p = zeros([1], { requiresGrad: true });
  const opt = new optim.SGD([p], { lr: 0.1 });
  const sched = new optim.LambdaLR(opt, factor);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(opt.paramGroups[0]!.lr);
    sched.step();
  }
  p.dispose();
  return out;
}

test("cosine / stepDecay / warmCosine / warmStep through LambdaLR equal torch's schedulers", () => {
  const ours: Record<string, optim.LrFactor> = {
    'cosine(10,0.01)': optim.cosine(10, 0.01),
    'stepDecay(3,0.5)': optim.stepDecay(3, 0.5),
    'stepDecay([2,5],0.1)': optim.stepDecay([2, 5], 0.1),
    'warmCosine(20,5)': optim.warmCosine(20, 5),
    'warmStep([6,9],0.1,4)': optim.warmStep([6, 9], 0.1, 4),
  };
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(fx.schedules).sort());
  // CosineAnnealingLR is recursive in torch, closed-form here: equal up to float rounding.
  for (const [k, f] of Object.entries(ours))
    assertClose(lrsOf(f, fx.schedules[k]!.length), fx.schedules[k]!, k, { rtol: 1e-9, atol: 1e-15 });
});

test('schedule factors by hand: warm-up ramp, cosine end points, milestones', () => {
  const wc = optim.warmCosine(100, 10);
  assert.equal(wc(0), 0.1);
  assert.equal(wc(4), 0.5, 'the ramp (i+1)/warmup is below the cosine early on');
  assert.equal(wc(9), (1 + Math.cos((9 * Math.PI) / 100)) / 2, 'at the end of the ramp the cosine is the smaller');
  assert.equal(wc(50), 0.5);
  assert.ok(Math.abs(wc(100)) < 1e-15);
  const cos = optim.cosine(4, 0.2);
  assert.deepEqual([0, 2, 4, 8].map(cos), [1, 0.6000000000000001, 0.2, 0.2], 'held at the floor past the end');
  assert.deepEqual([0, 2, 3, 6].map(optim.stepDecay(3, 0.5)), [1, 1, 0.5, 0.25]);
  assert.deepEqual(
    [0, 3, 4, 9].map(optim.stepDecay([9, 4], 0.1)),
    [1, 1, 0.1, 0.1 ** 2],
    'milestones in any order, decay at the milestone',
  );
  assert.deepEqual([0, 1, 2, 3].map(optim.warmStep([2], 0.5, 2)), [0.5, 1, 0.5, 0.5]);
  assert.throws(() => optim.warmCosine(0), /expected positive values, got 0/);
  assert.throws(() => optim.stepDecay(-1), /expected positive values/);
});

test('LambdaLR: per-group factors, getLastLr, state dict resume, refuses non-finite factors', () => {
  tidy(() => {
    const a = zeros([1], { requiresGrad: true }),
      b = zeros([1], { requiresGrad: true });
    const opt = new optim.SGD(
      [
        { params: [a], lr: 1 },
        { params: [b], lr: 0.5 },
      ],
      { lr: 0.1 },
    );
    const sched = new optim.LambdaLR(opt, [(i) => 1 / (i + 1), (i) => 2 ** i]);
    assert.deepEqual(sched.getLastLr(), [1, 0.5], 'construction applies factor(0)');
    sched.step();
    sched.step();
    assert.deepEqual(sched.getLastLr(), [1 / 3, 2]);
    const s = sched.stateDict();
    assert.deepEqual(s, { lastStep: 2, baseLrs: [1, 0.5] });
    const opt2 = new optim.SGD(
      [
        { params: [a], lr: 9 },
        { params: [b], lr: 9 },
      ],
      { lr: 0.1 },
    );
    const sched2 = new optim.LambdaLR(opt2, [(i) => 1 / (i + 1), (i) => 2 ** i]);
    sched2.loadStateDict(s);
    assert.deepEqual(sched2.getLastLr(), [1 / 3, 2]);
    sched.step();
    sched2.step();
    assert.deepEqual(sched2.getLastLr(), sched.getLastLr());
    assert.throws(() => new optim.LambdaLR(opt, [(i) => i]), /1 factors for 2 parameter groups/);
    assert.throws(() => new optim.LambdaLR(opt, () => NaN), /LR factor at step 0 is NaN/);
  });
});
