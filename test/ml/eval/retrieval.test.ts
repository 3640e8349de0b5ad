import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { tensor, liveTensors, type Tensor } from '../../../src/engine/index.js';
import { retrievalMetrics, recallAtK, evaluateRetrieval, type RetrievalMetrics } from '../../../src/ml/eval/index.js';
import type { EvaluateFn } from '../../../src/ml/train/types.js';
import {
  bruteMetrics,
  bruteRanking,
  gauss,
  integerNormData,
  prng,
  quantizedData,
  randomLabels,
  rows,
  type RefMetrics,
} from './reference.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/eval');
const close = (a: number | null, b: number | null, msg: string, tol = 1e-12): void => {
  if (a === null || b === null) {
    assert.equal(a, b, msg);
    return;
  }
  assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);
};
function sameMetrics(got: RetrievalMetrics, metric: 'cosine' | 'l2', ref: RefMetrics, msg: string): void {
  for (const [k, v] of Object.entries(ref.recall)) close(got.recall[metric]![k]!, v, `${msg} R@${k}`);
  close(got.mapAtR, ref.mapAtR, `${msg} MAP@R`);
  close(got.rPrecision, ref.rPrecision, `${msg} R-Precision`);
  close(got.precisionAt1, ref.precisionAt1, `${msg} P@1`);
  assert.equal(got.queriesWithPositives, ref.queriesWithPositives, `${msg} queries with positives`);
}

test('hand-computed leave-one-out case with a tie (1-D points, Euclidean)', () => {
  // Points 0, 1, 2, 10, 11, 30 with labels a a b b a b. Worked out by hand: first same-class
  // neighbour at ranks 0, 0, 2, 1, 2, 1 (query 1 sees 0 and 2 tied at distance 1: 0 first);
  // per-query AP@R 1/2, 1/2, 0, 1/4, 0, 1/4; R-precision 1/2, 1/2, 0, 1/2, 0, 1/2.
  const x = tensor([[0], [1], [2], [10], [11], [30]], { dtype: 'float32' });
  const r = retrievalMetrics(x, [0, 0, 1, 1, 0, 1], null, null, { ks: [1, 2, 3], metrics: ['l2'], mapMetric: 'l2' });
  assert.deepEqual(r.recall.l2, { 1: 2 / 6, 2: 4 / 6, 3: 1 });
  close(r.mapAtR, 1.5 / 6, 'MAP@R');
  close(r.rPrecision, 2 / 6, 'R-Precision');
  close(r.precisionAt1, 2 / 6, 'P@1');
  assert.equal(r.queries, 6);
  assert.equal(r.queriesWithPositives, 6);
  x.dispose();
});

test('hand-computed query-vs-gallery case: a query class missing from the gallery', () => {
  // Queries 0 (a), 10 (b), 5 (c); gallery 1 (a), 9 (b), 11 (b), 2 (a). Query c has no positive:
  // it is a Recall miss and is left out of MAP@R / R-Precision / P@1.
  const q = tensor([[0], [10], [5]], { dtype: 'float32' });
  const g = tensor([[1], [9], [11], [2]], { dtype: 'float32' });
  const r = retrievalMetrics(q, [0, 1, 2], g, [0, 1, 1, 0], { ks: [1, 4], metrics: ['l2'], mapMetric: 'l2' });
  assert.deepEqual(r.recall.l2, { 1: 2 / 3, 4: 2 / 3 });
  assert.equal(r.mapAtR, 1);
  assert.equal(r.rPrecision, 1);
  assert.equal(r.precisionAt1, 1);
  assert.equal(r.queriesWithPositives, 2);
  q.dispose();
  g.dispose();
});

test('random data: every metric equals the brute-force double-loop reference', () => {
  const r = prng(21);
  const cases: {
    name: string;
    q: Tensor;
    ql: Int32Array;
    g: Tensor | null;
    gl: Int32Array | null;
    qr: number[][];
    gr: number[][] | null;
    metrics: ('cosine' | 'l2')[];
  }[] = [];
  {
    const n = 240,
      d = 6,
      qa = quantizedData(n, d, r),
      ql = randomLabels(n, 12, r);
    cases.push({
      name: 'quantized loo',
      q: tensor(qa, { shape: [n, d] }),
      ql,
      g: null,
      gl: null,
      qr: rows(qa, n, d),
      gr: null,
      metrics: ['l2'],
    });
  }
  {
    const nq = 90,
      ng = 150,
      d = 6,
      qa = quantizedData(nq, d, r),
      ga = quantizedData(ng, d, r);
    const ql = randomLabels(nq, 15, r),
      gl = randomLabels(ng, 13, r); // labels 13, 14: no positives
    cases.push({
      name: 'quantized q/g',
      q: tensor(qa, { shape: [nq, d] }),
      ql,
      g: tensor(ga, { shape: [ng, d] }),
      gl,
      qr: rows(qa, nq, d),
      gr: rows(ga, ng, d),
      metrics: ['l2'],
    });
  }
  {
    const n = 150,
      ia = integerNormData(n, r),
      il = randomLabels(n, 6, r);
    cases.push({
      name: 'integer-norm loo',
      q: tensor(ia, { shape: [n, 3] }),
      ql: il,
      g: null,
      gl: null,
      qr: rows(ia, n, 3),
      gr: null,
      metrics: ['cosine', 'l2'],
    });
  }
  {
    const n = 260,
      d = 12,
      fa = Float32Array.from({ length: n * d }, () => gauss(r)),
      fl = randomLabels(n, 20, r);
    cases.push({
      name: 'gaussian loo',
      q: tensor(fa, { shape: [n, d] }),
      ql: fl,
      g: null,
      gl: null,
      qr: rows(fa, n, d),
      gr: null,
      metrics: ['cosine', 'l2'],
    });
  }
  const ks = [1, 2, 4, 8, 32];
  for (const c of cases) {
    for (const metric of c.metrics) {
      const ref = bruteMetrics(bruteRanking(c.qr, c.gr, metric), c.ql, c.gl ?? c.ql, ks, c.g === null);
      for (const chunkRows of [5, undefined]) {
        const got = retrievalMetrics(c.q, c.ql, c.g, c.gl, { ks, metrics: [metric], mapMetric: metric, chunkRows });
        sameMetrics(got, metric, ref, `${c.name} ${metric} chunk=${chunkRows}`);
      }
      assert.deepEqual(recallAtK(c.q, c.ql, ks, { metric, gallery: c.g, galleryLabels: c.gl }), ref.recall);
    }
    c.q.dispose();
    c.g?.dispose();
  }
});

test('PyTorch fixtures (stable-sort ranking of tie-heavy integer data) are reproduced', () => {
  interface Case {
    name: string;
    query: number[][];
    queryLabels: number[];
    gallery?: number[][];
    galleryLabels?: number[];
    ks: number[];
    expected: Record<string, RefMetrics & { top: number[][] }>;
  }
  const { cases } = JSON.parse(readFileSync(path.join(FIXTURES, 'retrieval.json'), 'utf8')) as { cases: Case[] };
  assert.equal(cases.length, 3);
  for (const c of cases) {
    const q = tensor(c.query, { dtype: 'float32' });
    const g = c.gallery ? tensor(c.gallery, { dtype: 'float32' }) : null;
    for (const [metric, exp] of Object.entries(c.expected) as ['cosine' | 'l2', RefMetrics & { top: number[][] }][]) {
      const got = retrievalMetrics(q, c.queryLabels, g, c.galleryLabels ?? null, {
        ks: c.ks,
        metrics: [metric],
        mapMetric: metric,
        chunkRows: 7,
      });
      sameMetrics(got, metric, exp, `${c.name} ${metric}`);
    }
    q.dispose();
    g?.dispose();
  }
});

test('evaluateRetrieval: one JSON-able report, percentages, both protocols, usable as the trainer hook', () => {
  const before = liveTensors();
  const r = prng(8);
  const n = 120,
    d = 8;
  const feats = tensor(
    Float32Array.from({ length: n * d }, () => gauss(r)),
    { shape: [n, d] },
  );
  const labels = tensor(randomLabels(n, 6, r), { dtype: 'int64' });
  const hook: EvaluateFn = evaluateRetrieval;
  const m = hook({ features: feats, labels }, null, [1, 2, 4]);
  assert.deepEqual(Object.keys(m.recall.cosine), ['1', '2', '4']);
  const report = evaluateRetrieval({ features: feats, labels }, null, { ks: [1, 2, 4], percent: false });
  const fr = retrievalMetrics(feats, labels, null, null, { ks: [1, 2, 4] });
  for (const k of ['1', '2', '4']) {
    close(m.recall.cosine[k]!, 100 * fr.recall.cosine![k]!, `percent cos R@${k}`, 1e-9);
    close(report.recall.l2[k]!, fr.recall.l2![k]!, `fraction l2 R@${k}`);
  }
  close(report.mapAtR, fr.mapAtR, 'MAP@R');
  assert.equal(report.protocol, 'leave-one-out');
  assert.equal(report.unit, 'fraction');
  assert.ok(typeof report.nmi === 'number' && report.nmi >= 0 && report.nmi <= 1, 'small set: NMI computed by default');
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  assert.equal(evaluateRetrieval({ features: feats, labels }, null, { nmi: false }).nmi, undefined);

  const q = feats.narrow(0, 0, 40),
    g = feats.narrow(0, 40, 80);
  const qlT = labels.narrow(0, 0, 40),
    ql = qlT.dataNumbers(),
    gl = labels.narrow(0, 40, 80);
  const qg = evaluateRetrieval({ features: q, labels: ql }, { features: g, labels: gl }, { ks: [1, 10], nmi: false });
  const ref = retrievalMetrics(q, ql, g, gl, { ks: [1, 10] });
  assert.equal(qg.protocol, 'query-gallery');
  assert.equal(qg.gallery, 80);
  close(qg.recall.cosine['10']!, 100 * ref.recall.cosine!['10']!, 'q/g R@10', 1e-9);
  q.dispose();
  g.dispose();
  qlT.dispose();
  gl.dispose();
  feats.dispose();
  labels.dispose();
  assert.equal(liveTensors(), before);
});
