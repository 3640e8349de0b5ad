// Half precision: the log-sum-exp losses, pushed to exponents that overflow float16 (e^11.1 is its
// largest value) and often float32 too, still give finite values and gradients in bfloat16 and
// float16, close to the float32 value. pytorch-metric-learning had overflows of this kind under
// autocast; here every sum of exponentials is a log-sum-exp with the maximum factored out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, randn, tensor, tidy, Generator, type DType } from '../../../src/engine/index.js';
import {
  createLoss,
  LogitLoss,
  needsClassTable,
  type LossName,
  type MetricLoss,
} from '../../../src/ml/losses/index.js';

/**
 * Options that drive the exponents far past float16's range: scales of 64-256 on cosines, dot
 * products of vectors of norm ~10 times β = 50, temperatures of 0.01, weights exp(40 · 1.2).
 */
const STRESS: [LossName, Record<string, unknown>][] = [
  ['cross-entropy', {}],
  ['norm-softmax', { temperature: 0.005 }],
  ['cosface', { scale: 256 }],
  ['arcface', { scale: 256 }],
  ['subcenter-arcface', { scale: 256 }],
  ['large-margin-softmax', { scale: 64 }],
  ['sphereface', { scale: 64 }],
  ['soft-triple', { la: 200, gamma: 0.01, centersPerClass: 3 }],
  ['proxy-nca', { scale: 64 }],
  ['proxy-anchor', { alpha: 128 }],
  ['multi-similarity', { distance: 'dot', beta: 50 }],
  ['n-pairs', { distance: 'dot' }],
  ['nt-xent', { temperature: 0.01 }],
  ['supcon', { temperature: 0.01 }],
  ['circle', { gamma: 256 }],
  ['tuplet-margin', { scale: 256 }],
  ['angular', { alpha: (55 * Math.PI) / 180 }],
  ['instance', { gamma: 256 }],
  ['ranked-list', { Tn: 40, Tp: 40 }],
  ['pnp', { anneal: 0.001, variant: 'Ds' }],
];

const TOL: Partial<Record<DType, number>> = { bfloat16: 5e-2, float16: 1e-2 };

test('log-sum-exp losses stay finite in bfloat16 and float16, near their float32 value', () => {
  const y = tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4], { dtype: 'int64' });
  for (const [name, options] of STRESS) {
    const o = needsClassTable(name) ? { ...options, numClasses: 5, embeddingSize: 8, seed: 1 } : options;
    const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(name, o);
    const sd = l.stateDict();
    tidy(() => {
      // Logit losses see raw logits of up to ~±40; embedding losses vectors of norm ~10.
      const x32 = randn([12, 8], { generator: new Generator(4) }).mul(l instanceof LogitLoss ? 15 : 4);
      const input = (x: typeof x32): typeof x32 => (l instanceof LogitLoss ? x.narrow(1, 0, 5) : x);
      const v32 = l.forward(input(x32), y).item();
      assert.ok(Number.isFinite(v32), `${name}: float32 value ${v32}`);
      for (const dt of ['bfloat16', 'float16'] as const) {
        l.to(dt);
        l.loadStateDict(new Map([...sd].map(([k, t]) => [k, t.to(dt)])));
        const x = x32.to(dt).requiresGrad_(true);
        const v = l.forward(input(x), y);
        const [g] = grad(v, [x], { allowUnused: true });
        const value = v.float().item();
        assert.ok(Number.isFinite(value), `${name} in ${dt}: value ${value}`);
        assert.ok(!g || g.float().dataNumbers().every(Number.isFinite), `${name} in ${dt}: gradient`);
        const err = Math.abs(value - v32) / Math.max(1, Math.abs(v32));
        assert.ok(err <= TOL[dt]!, `${name} in ${dt}: ${value} vs float32 ${v32} (relative ${err.toExponential(2)})`);
      }
      l.to('float32');
    });
    l.dispose();
  }
});
