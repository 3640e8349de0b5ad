// The bound behind PCE (src/ml/losses/pce.ts), checked in float64 against plain-JS cross-entropies:
// the identity PCE(p) = CE(c^s/λ) − Σ_k ‖c_k − c_k^s‖²/(2λ) for any p, the sandwich
// CE(c/λ) ≤ PCE ≤ CE(c^s/λ) at a self-consistent p, and λ_true ≤ λ_eigen ≤ λ_trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, grad, linalg, randn, tensor, tidy, type Tensor } from '../../../src/engine/index.js';
import { PairwiseCrossEntropyLoss, measurePceBound, pairwiseCrossEntropy } from '../../../src/ml/losses/index.js';
import { assertClose, labelsOf } from './helpers.js';

type M = number[][];
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const lse = (v: readonly number[]): number => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};
const softmaxRow = (v: readonly number[]): number[] => {
  const l = lse(v);
  return v.map((x) => Math.exp(x - l));
};

/** CE of the bias-free classifier theta [K, d] on z [n, d] with classes cls. */
function ce(theta: M, z: M, cls: readonly number[]): number {
  return z.reduce((s, zi, i) => s + lse(theta.map((t) => dot(t, zi))) - dot(theta[cls[i]!]!, zi), 0) / z.length;
}
/** Class means c_k = 1/n Σ_{y_j = k} z_j (divided by n, not by the class size). */
function hardMeans(z: M, cls: readonly number[], k: number): M {
  const d = z[0]!.length;
  return Array.from({ length: k }, (_, c) =>
    Array.from({ length: d }, (_, e) => z.reduce((s, r, j) => s + (cls[j] === c ? r[e]! : 0), 0) / z.length),
  );
}
/** Soft means c_k^s = 1/n Σ_i p_ik z_i. */
function softMeans(z: M, p: M, k: number): M {
  const d = z[0]!.length;
  return Array.from({ length: k }, (_, c) =>
    Array.from({ length: d }, (_, e) => z.reduce((s, r, i) => s + p[i]![c]! * r[e]!, 0) / z.length),
  );
}
const scale = (m: M, f: number): M => m.map((r) => r.map((v) => v * f));
const sqDist = (a: M, b: M): number => a.reduce((s, r, k) => s + r.reduce((t, v, e) => t + (v - b[k]![e]!) ** 2, 0), 0);

function pce(z: M, cls: readonly number[], k: number, p: M, lambda: number): number {
  return tidy(() => {
    const r = pairwiseCrossEntropy(tensor(z, { dtype: 'float64' }), cls, k, tensor(p, { dtype: 'float64' }), lambda);
    return r.tightness.add(r.contrastive).item();
  });
}

interface Case {
  z: M;
  cls: number[];
  k: number;
}
function randomCase(g: Generator, trial: number): Case {
  const n = 3 + (trial % 10),
    k = 2 + (trial % 4),
    d = 1 + (trial % 6);
  const s = [0.1, 0.7, 2, 6][trial % 4]!;
  const z = tidy(() => randn([n, d], { dtype: 'float64', generator: g }).mul(s).tolist() as M);
  const cls = tidy(() => randn([n], { dtype: 'float64', generator: g }).tolist() as number[]).map((v, i) =>
    i < k ? i : Math.floor(Math.abs(v) * 997) % k,
  );
  return { z, cls, k };
}
const lambdaOf = (z: M, kind: 'eigen' | 'trace'): number =>
  tidy(() => {
    const t = tensor(z, { dtype: 'float64' });
    return kind === 'eigen' ? PairwiseCrossEntropyLoss.lambdaEigen(t) : PairwiseCrossEntropyLoss.lambdaTrace(t);
  });

test('PCE(p) = CE(c^s/λ) − Σ_k ‖c_k − c_k^s‖²/(2λ) for any p and λ (200 random batches, 1e-10)', () => {
  const g = new Generator(12);
  for (let trial = 0; trial < 200; trial++) {
    const { z, cls, k } = randomCase(g, trial);
    const temp = [0.3, 1, 5][trial % 3]!;
    const p = tidy(() => randn([z.length, k], { dtype: 'float64', generator: g }).mul(temp).softmax(1).tolist() as M);
    const lambda =
      trial % 3 === 0 ? lambdaOf(z, 'eigen') : trial % 3 === 1 ? lambdaOf(z, 'trace') : 0.05 + (trial % 17) * 0.3;
    const c = hardMeans(z, cls, k),
      cs = softMeans(z, p, k);
    const expected = ce(scale(cs, 1 / lambda), z, cls) - sqDist(c, cs) / (2 * lambda);
    const got = pce(z, cls, k, p, lambda);
    assert.ok(
      Math.abs(got - expected) <= 1e-10 * Math.max(1, Math.abs(expected)),
      `trial ${trial}: PCE ${got} vs ${expected}`,
    );
  }
});

/** p = softmax(z c^s(p)ᵀ/λ): damped fixed-point iteration (same fixed points, safe steps). */
function selfConsistent(z: M, k: number, lambda: number): { p: M; residual: number } {
  let p: M = z.map(() => new Array<number>(k).fill(1 / k));
  let residual = Infinity;
  for (let it = 0; it < 20000 && residual > 1e-14; it++) {
    const cs = softMeans(z, p, k);
    const q = z.map((zi) => softmaxRow(cs.map((c) => dot(c, zi) / lambda)));
    residual = Math.max(...q.map((r, i) => Math.max(...r.map((v, j) => Math.abs(v - p[i]![j]!)))));
    p = q.map((r, i) => r.map((v, j) => (v + p[i]![j]!) / 2));
  }
  return { p, residual };
}

test(
  'at a self-consistent p (the softmax at θ′ = c^s/λ), CE(c/λ) ≤ PCE ≤ CE(c^s/λ) with λ = eigen (120 ' + 'batches)',
  () => {
    const g = new Generator(13);
    let strictLower = 0;
    for (let trial = 0; trial < 120; trial++) {
      const { z, cls, k } = randomCase(g, trial);
      const lambda = lambdaOf(z, 'eigen');
      const { p, residual } = selfConsistent(z, k, lambda);
      assert.ok(residual <= 1e-12, `trial ${trial}: the fixed point did not converge (residual ${residual})`);
      const c = hardMeans(z, cls, k),
        cs = softMeans(z, p, k);
      const lower = ce(scale(c, 1 / lambda), z, cls),
        upper = ce(scale(cs, 1 / lambda), z, cls);
      const v = pce(z, cls, k, p, lambda);
      assert.ok(lower <= v + 1e-12, `trial ${trial}: CE(c/λ) ${lower} > PCE ${v}`);
      assert.ok(v <= upper + 1e-12, `trial ${trial}: PCE ${v} > CE(c^s/λ) ${upper}`);
      if (v - lower > 1e-9) strictLower++;
    }
    assert.ok(strictLower > 60, `the lower bound is not trivially tight (${strictLower} strict cases)`);
  },
);

/**
 * λ_max of the Hessian in θ of 1/n Σ_i lse_k(θ_kᵀz_i) at the classifier theta: 1/n Σ_i (diag p_i − p_i p_iᵀ) ⊗ z_i
 * z_iᵀ.
 */
function hessianTop(z: M, theta: M): number {
  const k = theta.length,
    d = z[0]!.length,
    n = z.length,
    size = k * d;
  const h = new Array<number>(size * size).fill(0);
  for (const zi of z) {
    const p = softmaxRow(theta.map((t) => dot(t, zi)));
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) {
        const w = (a === b ? p[a]! : 0) - p[a]! * p[b]!;
        for (let e = 0; e < d; e++)
          for (let f = 0; f < d; f++) h[(a * d + e) * size + b * d + f]! += (w * zi[e]! * zi[f]!) / n;
      }
  }
  return tidy(() =>
    linalg
      .eigvalsh(tensor(Float64Array.from(h), { shape: [size, size] }))
      .max()
      .item(),
  );
}

test(
  "λ ordering: the Hessian's largest eigenvalue ≤ λ_eigen ≤ λ_trace, at zero, random and self-consistent " +
    'classifiers',
  () => {
    const g = new Generator(14);
    let looser = 0;
    for (let trial = 0; trial < 60; trial++) {
      const { z, k } = randomCase(g, trial);
      const eigen = lambdaOf(z, 'eigen'),
        trace = lambdaOf(z, 'trace');
      const d = z[0]!.length;
      const thetas: M[] = [
        Array.from({ length: k }, () => new Array<number>(d).fill(0)),
        tidy(() => randn([k, d], { dtype: 'float64', generator: g }).mul(2).tolist() as M),
        scale(softMeans(z, selfConsistent(z, k, eigen).p, k), 1 / eigen),
      ];
      for (const theta of thetas)
        assert.ok(hessianTop(z, theta) <= eigen * (1 + 1e-12), `trial ${trial}: Hessian above λ_eigen ${eigen}`);
      assert.ok(eigen <= trace * (1 + 1e-12), `trial ${trial}: eigen ${eigen} > trace ${trace}`);
      if (trace > eigen * 1.5) looser++;
    }
    assert.ok(looser > 10, `the trace bound is looser than the eigen bound in many cases (${looser})`);
  },
);

test('λ_eigen is the top eigenvalue of ZᵀZ/(2n), whichever Gram matrix it is computed from', () => {
  for (const [n, d] of [
    [3, 8],
    [8, 3],
    [5, 5],
  ] as const) {
    tidy(() => {
      const z = randn([n, d], { dtype: 'float64', generator: new Generator(n * 10 + d) });
      const top = linalg.eigvalsh(z.t().matmul(z)).max().item();
      assertClose(PairwiseCrossEntropyLoss.lambdaEigen(z), top / (2 * n), `${n}x${d}`, 1e-12);
      const tr = z.square().sum().item() / (2 * n);
      assertClose(PairwiseCrossEntropyLoss.lambdaTrace(z), tr, `${n}x${d} trace`, 1e-12);
    });
  }
  tidy(() =>
    assert.equal(
      PairwiseCrossEntropyLoss.lambdaEigen(
        tensor(
          [
            [0, 0],
            [0, 0],
          ],
          { dtype: 'float64' },
        ),
      ),
      1,
      'all-zero features: λ = 1',
    ),
  );
});

test("softMean 'head': p is the classifier's detached softmax; the head gets no gradient", () => {
  tidy(() => {
    const g = new Generator(15);
    const z = randn([7, 3], { dtype: 'float64', generator: g }).requiresGrad_(true);
    const weight = randn([4, 3], { dtype: 'float64', generator: g }).requiresGrad_(true);
    const bias = randn([4], { dtype: 'float64', generator: g }).requiresGrad_(true);
    const cls = [0, 1, 2, 3, 0, 1, 1];
    const loss = new PairwiseCrossEntropyLoss({ softMean: 'head', head: { weight, bias }, lambda: 1.3 });
    const v = loss.forward(z, labelsOf(cls));
    const zs = z.tolist() as M,
      ws = weight.tolist() as M,
      bs = bias.tolist() as number[];
    const p = zs.map((zi) => softmaxRow(ws.map((w, c) => dot(w, zi) + bs[c]!)));
    assertClose(v.item(), pce(zs, cls, 4, p, 1.3), 'value', 1e-12);
    const [gz, gw, gb] = grad(v, [z, weight, bias], { allowUnused: true }) as [
      Tensor | null,
      Tensor | null,
      Tensor | null,
    ];
    assert.ok(gz !== null && gz.isfinite().all().item(), 'the features get a gradient');
    for (const [name, gr] of [
      ['weight', gw],
      ['bias', gb],
    ] as const)
      assert.ok(gr === null || gr.abs().max().item() === 0, `${name}: no gradient`);
  });
  assert.throws(
    () => new PairwiseCrossEntropyLoss({ softMean: 'head' }),
    /softMean 'head' needs the classifier as option head/,
  );
  assert.throws(
    () => new PairwiseCrossEntropyLoss({ lambda: 'bound' as never }),
    /lambda 'bound' is now called 'trace'/,
  );
  tidy(() => {
    const head = { weight: randn([3, 5], { dtype: 'float64' }) };
    assert.throws(
      () =>
        new PairwiseCrossEntropyLoss({ softMean: 'head', head }).forward(
          randn([4, 2], { dtype: 'float64' }),
          labelsOf([0, 1, 2, 0]),
        ),
      /the head takes 5-d features, the embeddings are 2-d/,
    );
  });
});

test("measurePceBound: the classifier's plain CE and the PCE with its softmax as soft-mean probabilities", () => {
  tidy(() => {
    const g = new Generator(16);
    const z = randn([9, 4], { dtype: 'float32', generator: g });
    const weight = randn([3, 4], { dtype: 'float32', generator: g }),
      bias = randn([3], { dtype: 'float32', generator: g });
    const logits = z.matmul(weight.t()).add(bias);
    const cls = [0, 1, 2, 0, 1, 2, 0, 0, 1];
    const m = measurePceBound(z, logits, cls);
    const zs = z.double().tolist() as M,
      ss = logits.double().tolist() as M;
    assertClose(m.ce, ss.reduce((a, r, i) => a + lse(r) - r[cls[i]!]!, 0) / cls.length, 'ce', 1e-12);
    const loss = new PairwiseCrossEntropyLoss({
      softMean: 'head',
      head: { weight: weight.double(), bias: bias.double() },
    });
    assertClose(m.pce, loss.forward(z.double(), labelsOf(cls)).item(), 'pce (float32 logits)', 1e-6);
    assertClose(m.pce, pce(zs, cls, 3, ss.map(softmaxRow), m.lambda), 'pce by hand', 1e-12);
    assertClose(m.tightness + m.contrastive, m.pce, 'parts', 1e-12);
    assertClose(m.lambda, PairwiseCrossEntropyLoss.lambdaEigen(z.double()), 'λ eigen', 1e-12);
  });
  tidy(() =>
    assert.throws(
      () => measurePceBound(randn([2, 3]), randn([2, 2]), [0, 2]),
      /label 2 is outside the classifier's 2 classes/,
    ),
  );
});
