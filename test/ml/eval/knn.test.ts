import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, liveTensors, type Tensor } from '../../../src/engine/index.js';
import { knn, forEachNeighborChunk, chunkRowsForBudget, type Metric } from '../../../src/ml/eval/index.js';
import { bruteRanking, integerNormData, prng, quantizedData, rows, gauss, score } from './reference.js';

const mat = (data: number[][]): Tensor => tensor(data, { dtype: 'float32' });
const rowsOf = (a: ArrayLike<number>, k: number): number[][] => rows(a, a.length / k, k);

test('hand-built ties: equal scores go to the lower gallery index, also at the k-th place', () => {
  // cosine to q=[1,0]: items 0,1,2,4,5 all 1, item 3 is 0. dot: 3, 2, then 1 x3. l2: 0 x3, 1, sqrt2, 2.
  const g = mat([
    [1, 0],
    [2, 0],
    [1, 0],
    [0, 1],
    [1, 0],
    [3, 0],
  ]);
  const q = mat([[1, 0]]);
  const cases: [Metric, number, number[], number[]][] = [
    ['cosine', 3, [0, 1, 2], [1, 1, 1]],
    ['cosine', 6, [0, 1, 2, 4, 5, 3], [1, 1, 1, 1, 1, 0]],
    ['dot', 3, [5, 1, 0], [3, 2, 1]],
    ['dot', 5, [5, 1, 0, 2, 4], [3, 2, 1, 1, 1]],
    ['l2', 2, [0, 2], [0, 0]],
    ['l2', 6, [0, 2, 4, 1, 3, 5], [0, 0, 0, 1, Math.SQRT2, 2]],
  ];
  for (const [metric, k, idx, sc] of cases) {
    const r = knn(q, g, { k, metric });
    assert.deepEqual(Array.from(r.indices), idx, `${metric} k=${k}`);
    Array.from(r.scores).forEach((v, i) => assert.ok(Math.abs(v - sc[i]!) < 1e-6, `${metric} k=${k} score ${i}: ${v}`));
  }
  g.dispose();
  q.dispose();
});

test('leave-one-out excludes the query by index, not by value: a duplicate is a neighbour at distance 0', () => {
  const x = mat([
    [0, 0],
    [5, 5],
    [0, 0],
    [1, 0],
  ]);
  const r = knn(x, null, { k: 3, metric: 'l2' });
  assert.deepEqual(rowsOf(r.indices, 3), [
    [2, 3, 1],
    [3, 0, 2],
    [0, 3, 1],
    [0, 2, 1],
  ]);
  assert.equal(r.scores[0], 0);
  // k larger than the candidates (N - 1) is capped.
  const all = knn(x, null, { k: 10, metric: 'l2' });
  assert.equal(all.k, 3);
  x.dispose();
});

test('exact agreement with a brute-force ranking on tie-heavy data, any chunking (l2, dot, cosine)', () => {
  const r = prng(11);
  const nq = 57,
    ng = 83,
    d = 5;
  const qa = quantizedData(nq, d, r),
    ga = quantizedData(ng, d, r);
  const q = tensor(qa, { shape: [nq, d] }),
    g = tensor(ga, { shape: [ng, d] });
  const ci = integerNormData(70, r);
  const c = tensor(ci, { shape: [70, 3] });
  const setups: {
    name: string;
    q: Tensor;
    g: Tensor | null;
    qr: number[][];
    gr: number[][] | null;
    metrics: Metric[];
  }[] = [
    { name: 'quantized loo', q, g: null, qr: rows(qa, nq, d), gr: null, metrics: ['l2', 'dot'] },
    { name: 'quantized q/g', q, g, qr: rows(qa, nq, d), gr: rows(ga, ng, d), metrics: ['l2', 'dot'] },
    { name: 'integer-norm loo', q: c, g: null, qr: rows(ci, 70, 3), gr: null, metrics: ['cosine', 'l2', 'dot'] },
  ];
  for (const s of setups) {
    for (const metric of s.metrics) {
      const ref = bruteRanking(s.qr, s.gr, metric);
      for (const k of [1, 6, 40]) {
        for (const chunkRows of [1, 7, undefined]) {
          const got = knn(s.q, s.g, { k, metric, chunkRows });
          assert.deepEqual(
            rowsOf(got.indices, got.k),
            ref.map((row) => row.slice(0, k)),
            `${s.name} ${metric} k=${k} chunk=${chunkRows}`,
          );
        }
      }
    }
  }
  // All metrics from one pass equal the single-metric passes.
  const seen = new Map<Metric, Int32Array>();
  forEachNeighborChunk(c, null, { k: 9, metrics: ['l2', 'cosine', 'dot'], chunkRows: 13 }, (ch) => {
    const a = seen.get(ch.metric) ?? new Int32Array(70 * 9);
    a.set(ch.indices, ch.start * 9);
    seen.set(ch.metric, a);
  });
  for (const m of ['l2', 'cosine', 'dot'] as const)
    assert.deepEqual(seen.get(m), knn(c, null, { k: 9, metric: m }).indices, m);
  q.dispose();
  g.dispose();
  c.dispose();
});

test('continuous random data: cosine and l2 neighbours and scores match the brute force', () => {
  const r = prng(5);
  const n = 300,
    d = 16;
  const xa = Float32Array.from({ length: n * d }, () => gauss(r));
  const x = tensor(xa, { shape: [n, d] });
  const xr = rows(xa, n, d);
  for (const metric of ['cosine', 'l2'] as const) {
    const got = knn(x, null, { k: 10, metric, chunkRows: 64 });
    const ref = bruteRanking(xr, null, metric);
    for (let i = 0; i < n; i++) {
      const norm = Math.hypot(...xr[i]!);
      for (let j = 0; j < 10; j++) {
        const gj = got.indices[i * 10 + j]!;
        const s = score(xr[i]!, xr[gj]!, metric);
        const want = metric === 'cosine' ? s / norm : Math.sqrt(-s);
        assert.ok(Math.abs(got.scores[i * 10 + j]! - want) < 1e-4, `${metric} score (${i}, ${j})`);
      }
      assert.deepEqual(
        Array.from(got.indices.subarray(i * 10, i * 10 + 10)),
        ref[i]!.slice(0, 10),
        `${metric} row ${i}`,
      );
    }
  }
  x.dispose();
});

test('the chunk size follows the memory budget and does not change results', () => {
  // SOP: 60,502 gallery rows, float32, 256 MiB -> 1109 queries per [rows, N] block.
  assert.equal(chunkRowsForBudget(60502, 4, ['cosine']), 1109);
  assert.equal(chunkRowsForBudget(60502, 4, ['cosine', 'l2']), 554);
  assert.equal(chunkRowsForBudget(60502, 4, ['l2'], 1), 1);
  const r = prng(3);
  const xa = quantizedData(200, 4, r);
  const x = tensor(xa, { shape: [200, 4] });
  const big = knn(x, null, { k: 20, metric: 'l2' });
  let chunks = 0;
  const small = forEachNeighborChunk(x, null, { k: 20, metrics: ['l2'], memoryBudgetBytes: 200 * 4 * 16 }, () => {
    chunks++;
  });
  assert.equal(small.chunkRows, 16);
  assert.equal(chunks, Math.ceil(200 / 16));
  assert.deepEqual(knn(x, null, { k: 20, metric: 'l2', memoryBudgetBytes: 200 * 4 * 16 }).indices, big.indices);
  x.dispose();
});

test('argument checks and no leaked tensors', () => {
  const x = mat([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const before = liveTensors();
  knn(x, null, { k: 2, metric: 'cosine' });
  forEachNeighborChunk(x, x, { k: 3, metrics: ['cosine', 'l2', 'dot'], chunkRows: 1 }, () => {});
  assert.equal(liveTensors(), before);
  const bad = mat([
    [1, NaN],
    [0, 1],
  ]);
  assert.throws(() => knn(bad, null, { k: 1 }), /NaN or infinite/);
  assert.throws(() => knn(x, null, { k: 0 }), /positive integer/);
  assert.throws(() => knn(x, mat([[1, 2, 3]]), { k: 1 }), /dim/);
  assert.throws(() => knn(mat([[1, 2]]), null, { k: 1 }), /no candidates/);
  x.dispose();
  bad.dispose();
});
