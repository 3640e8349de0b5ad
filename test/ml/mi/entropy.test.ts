import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { tensor, tidy, liveTensors, type Tensor } from '../../../src/engine/index.js';
import { klEntropy, klEntropyEstimate, twoNnDimension, pcaWhiten, gaussianEntropy } from '../../../src/ml/mi/index.js';
import { prng, gauss } from '../eval/reference.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/eval');

/** A random rotation (Gram-Schmidt of a Gaussian matrix), rows orthonormal. */
function rotation(d: number, r: () => number): number[][] {
  const q: number[][] = [];
  while (q.length < d) {
    let v = Array.from({ length: d }, () => gauss(r));
    for (const u of q) {
      const dot = v.reduce((s, x, i) => s + x * u[i]!, 0);
      v = v.map((x, i) => x - dot * u[i]!);
    }
    const norm = Math.hypot(...v);
    q.push(v.map((x) => x / norm));
  }
  return q;
}

/** n draws of N(0, R^T diag(s^2) R) and log det of that covariance. */
function gaussian(n: number, scales: number[], seed: number): { x: Tensor; logDet: number } {
  const d = scales.length,
    r = prng(seed),
    rot = rotation(d, r);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = scales.map((s) => s * gauss(r));
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let t = 0; t < d; t++) v += z[t]! * rot[t]![j]!;
      out[i * d + j] = v;
    }
  }
  return { x: tensor(out, { shape: [n, d] }), logDet: scales.reduce((s, v) => s + 2 * Math.log(v), 0) };
}

test('Kozachenko-Leonenko entropy of Gaussians (n = 5000, d = 1, 4, 16) within 5% of the closed form', () => {
  for (const d of [1, 4, 16]) {
    const r = prng(100 + d);
    const scales = Array.from({ length: d }, () => Math.sqrt(0.5 + 1.5 * r())); // variances in [0.5, 2]
    const { x, logDet } = gaussian(5000, scales, d);
    const truth = gaussianEntropy(d, logDet);
    const est = klEntropy(x, { k: 3 });
    assert.ok(
      Math.abs(est - truth) / Math.abs(truth) < 0.05,
      `d=${d}: estimate ${est.toFixed(4)} vs ${truth.toFixed(4)}`,
    );
    x.dispose();
  }
});

test('estimator and TwoNN match the PyTorch fixture; duplicates are counted, not fatal', () => {
  const fx = JSON.parse(readFileSync(path.join(FIXTURES, 'entropy.json'), 'utf8')) as {
    x: number[][];
    entropy: Record<string, number>;
    twoNN: number;
  };
  const x = tensor(fx.x, { dtype: 'float64' });
  for (const [k, h] of Object.entries(fx.entropy)) {
    const e = klEntropyEstimate(x, { k: Number(k) });
    assert.ok(Math.abs(e.nats - h) < 1e-9, `k=${k}: ${e.nats} vs ${h}`);
    assert.equal(e.zeroDistances, 0);
  }
  assert.ok(Math.abs(twoNnDimension(x) - fx.twoNN) < 1e-9);
  const dup = tensor(
    [
      [0, 0],
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    { dtype: 'float64' },
  );
  const e = klEntropyEstimate(dup, { k: 1 });
  assert.equal(e.zeroDistances, 2);
  assert.ok(Number.isFinite(e.nats));
  assert.throws(() => klEntropy(dup, { k: 5 }), /k must be/);
  x.dispose();
  dup.dispose();
});

test('PCA whitening: identity covariance, entropy of the projection recovered, intrinsic dimension found', () => {
  const before = liveTensors();
  // Strongly anisotropic (variances 0.01 .. 100): raw KL is biased, whitened KL + log-Jacobian is not.
  const scales = [10, 5, 2, 1, 0.5, 0.3, 0.2, 0.1];
  const { x, logDet } = gaussian(5000, scales, 7);
  const w = pcaWhiten(x, { dims: 8 });
  const cov = tidy(() => w.z.t().mm(w.z).div(4999).data() as Float64Array);
  for (let i = 0; i < 8; i++)
    for (let j = 0; j < 8; j++) assert.ok(Math.abs(cov[i * 8 + j]! - (i === j ? 1 : 0)) < 1e-9);
  const truth = gaussianEntropy(8, logDet);
  const est = klEntropy(w.z) + w.logJacobian;
  assert.ok(Math.abs(est - truth) / Math.abs(truth) < 0.05, `whitened ${est} vs ${truth}`);
  w.z.dispose();
  w.dispose();
  // TwoNN sees the dimension at the neighbour scale: the 0.1-0.3 directions hardly count here.
  const auto = pcaWhiten(x);
  assert.ok(auto.intrinsicDim! > 4 && auto.intrinsicDim! < 8, `TwoNN ${auto.intrinsicDim}`);
  assert.equal(auto.dims, Math.round(auto.intrinsicDim!));
  auto.z.dispose();
  auto.dispose();
  x.dispose();
  const iso = gaussian(5000, [1, 1.2, 0.8, 1.1, 0.9, 1, 1.3, 0.7], 8);
  const isoW = pcaWhiten(iso.x);
  assert.equal(isoW.dims, 8, `TwoNN ${isoW.intrinsicDim}`);
  isoW.z.dispose();
  isoW.dispose();
  iso.x.dispose();

  // 3-dimensional data embedded in 10 dimensions: rank 3, and at most 3 components kept.
  const r = prng(9);
  const low = new Float64Array(2000 * 10);
  for (let i = 0; i < 2000; i++) {
    const z = [gauss(r), gauss(r), gauss(r)];
    for (let j = 0; j < 10; j++) low[i * 10 + j] = z[j % 3]! * (1 + j) + (j === 9 ? 3 : 0);
  }
  const lt = tensor(low, { shape: [2000, 10] });
  const lw = pcaWhiten(lt);
  assert.equal(lw.rank, 3);
  assert.ok(lw.dims <= 3 && lw.dims >= 2, `dims ${lw.dims}`);
  lw.z.dispose();
  lw.dispose();
  lt.dispose();
  assert.equal(liveTensors(), before);
});
