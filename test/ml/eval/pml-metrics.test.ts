// AMI against scikit-learn and mean reciprocal rank against PML's AccuracyCalculator
// (test/fixtures/pml/metrics.json); Open Metric Learning's precision@K, FNMR@FMR and PCF against
// values worked out by hand from OML's definitions (oml/functional/metrics.py: calc_precision,
// calc_fnmr_at_fmr, calc_pcf), OML's own docstring examples among them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eye, tensor } from '../../../src/engine/index.js';
import {
  adjustedMutualInfo,
  clusteringNmi,
  evaluateRetrieval,
  fnmrAtFmr,
  pairDistances,
  percentile,
  principalComponentsFraction,
  retrievalMetrics,
} from '../../../src/ml/eval/index.js';
import { assertClose } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

interface Fixture {
  ami: { a: number[]; b: number[]; ami: number }[];
  mrr: {
    query: number[][];
    queryLabels: number[];
    gallery?: number[][];
    galleryLabels?: number[];
    mrr: number;
    precisionAt1: number;
  }[];
}
const fx = loadPml<Fixture>('metrics');

test('AMI equals scikit-learn adjusted_mutual_info_score, limit cases included', () => {
  for (const c of fx.ami) assertClose(adjustedMutualInfo(c.a, c.b), c.ami, `${c.a.length} samples`, 1e-10);
  // Identical labelings score 1; the clustering score reports AMI beside NMI.
  assertClose(adjustedMutualInfo([0, 1, 1, 2, 2, 2], [5, 3, 3, 4, 4, 4]), 1, 'relabelled', 1e-12);
  const x = tensor(
    [
      [0, 0],
      [0.1, 0],
      [5, 5],
      [5.1, 5],
    ],
    { dtype: 'float64' },
  );
  const c = clusteringNmi(x, [0, 0, 1, 1], { normalize: false, seed: 1 });
  assertClose(c.ami, 1, 'clusteringNmi: AMI of a perfect clustering', 1e-12);
  x.dispose();
});

test("mean reciprocal rank equals PML's (k = None: the whole gallery ranked), leave-one-out and query-gallery", () => {
  for (const c of fx.mrr) {
    const q = tensor(c.query, { dtype: 'float64' });
    const g = c.gallery ? tensor(c.gallery, { dtype: 'float64' }) : null;
    const r = retrievalMetrics(q, c.queryLabels, g, c.galleryLabels ?? null, {
      ks: [1],
      metrics: ['cosine'],
      mrrDepth: Infinity,
    });
    assertClose(r.mrr!, c.mrr, g ? 'query-gallery' : 'leave-one-out', 1e-12);
    assertClose(r.precisionAt1!, c.precisionAt1, 'P@1', 1e-12);
    // The default looks as deep as the neighbours retrieved anyway, max(K, R_max): never more.
    const shallow = retrievalMetrics(q, c.queryLabels, g, c.galleryLabels ?? null, { ks: [1], metrics: ['cosine'] });
    assert.ok(shallow.mrr! <= r.mrr! + 1e-15);
    q.dispose();
    g?.dispose();
  }
});

/** Unit vectors at the given angles (degrees). */
const at = (deg: number[]): number[][] =>
  deg.map((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]);

test("OML's precision@K divides by min(K, R); MRR of a designed ranking", () => {
  // Query 0 (A at 0°) ranks the gallery A B A B A (R = 3); query 1 (B at 90°) ranks A B A B A (R = 2).
  const q = tensor(at([0, 90]), { dtype: 'float64' });
  const g = tensor(at([10, 20, 30, 40, 50]), { dtype: 'float64' });
  const r = retrievalMetrics(q, [0, 1], g, [0, 1, 0, 1, 0], { ks: [1, 2, 3, 4, 5], metrics: ['cosine'] });
  // q0: 1/1, 1/2, 2/3, 2/min(4,3), 3/min(5,3); q1: 0, 1/2, 1/2, 2/min(4,2), 2/2.
  assertClose(
    ['1', '2', '3', '4', '5'].map((k) => r.precisionAtK[k]!),
    [0.5, 0.5, (2 / 3 + 1 / 2) / 2, (2 / 3 + 1) / 2, 1],
    'precision@K',
    1e-12,
  );
  assertClose(r.mrr!, (1 + 1 / 2) / 2, 'MRR', 1e-12);
  // OML's docstring: gt_tops [[1,0],[0,1],[0,0]], n_gt [2,3,5] → precision@1 [1,0,0], @2 [.5,.5,0]:
  // three queries whose two nearest are (relevant, not), (not, relevant), (not, not), with 2, 3, 5
  // relevant items in all.
  const q3 = tensor(at([0, 100, 200]), { dtype: 'float64' });
  const g3 = tensor(at([1, 2, 40, 101, 102, 150, 160, 201, 202, 260, 270, 280, 290, 300]), { dtype: 'float64' });
  const gl3 = [0, 5, 0, 6, 1, 1, 1, 7, 7, 2, 2, 2, 2, 2];
  const r3 = retrievalMetrics(q3, [0, 1, 2], g3, gl3, { ks: [1, 2], metrics: ['cosine'] });
  assertClose([r3.precisionAtK['1']!, r3.precisionAtK['2']!], [1 / 3, 1 / 3], 'OML example', 1e-12);
  for (const t of [q, g, q3, g3]) t.dispose();
});

test("FNMR@FMR: OML's docstring example and numpy.percentile's interpolation", () => {
  // OML: pos [0,0,1,1,2,2,5,5,9,9], neg [3,3,4,4,6,6,7,7,8,8], fmr (10 %, 50 %) → FNMR (40 %, 20 %).
  const pos = [0, 0, 1, 1, 2, 2, 5, 5, 9, 9],
    neg = [3, 3, 4, 4, 6, 6, 7, 7, 8, 8];
  assert.deepEqual(fnmrAtFmr(pos, neg, [0.1, 0.5, 0, 1]), [0.4, 0.2, 0.4, 0.2]);
  // neg [1..5]: the 30th percentile is 2.2 (position 1.2), the 60th 3.4 (position 2.4).
  assertClose(percentile([1, 2, 3, 4, 5], 30), 2.2, 'p30', 1e-15);
  assert.deepEqual(fnmrAtFmr([2.5, 3.2, 4.1, 0.5], [5, 1, 4, 2, 3], [0.3, 0.6]), [0.75, 0.25]);
  // The pairs of a leave-one-out set on a line: 0, 1 (class 0), 3, 6 (class 1).
  const x = tensor([[0], [1], [3], [6]], { dtype: 'float64' });
  const { pos: p, neg: n } = pairDistances(x, [0, 0, 1, 1]);
  assert.deepEqual([...p].sort(), [1, 1, 3, 3]);
  assert.deepEqual([...n].sort(), [2, 2, 3, 3, 5, 5, 6, 6]);
  // 10 %: threshold 2 (position 0.7 between 2 and 2) → both 3s are non-matches; 50 %: 4 → none.
  assert.deepEqual(fnmrAtFmr(p, n, [0.1, 0.5]), [0.5, 0]);
  const rep = evaluateRetrieval({ features: x, labels: [0, 0, 1, 1] }, null, {
    ks: [1],
    nmi: false,
    fnmrAtFmr: [0.1, 0.5],
    pcf: [0.5],
  });
  assert.deepEqual(rep.fnmrAtFmr, { '0.1': 50, '0.5': 0 });
  assert.throws(() => pairDistances(x, [0, 0, 1, 1], null, null, { maxPairs: 4 }), /exceed maxPairs/);
  x.dispose();
});

test("PCF: OML's docstring example and an axis-aligned set", () => {
  // OML: torch.eye(4, 10), variances (0.5, 1) → (0.2, 0.5).
  const e = eye(4, 10, { dtype: 'float64' });
  assertClose(principalComponentsFraction(e, [0.5, 1]), [0.2, 0.5], 'eye(4, 10)', 1e-12);
  // ±2 e1, ±1 e2 in 3-d: variances 8/3, 2/3, 0 → explained 0.8, 0.2, 0; cumulative 0.8, 1, 1.
  const x = tensor(
    [
      [2, 0, 0],
      [-2, 0, 0],
      [0, 1, 0],
      [0, -1, 0],
    ],
    { dtype: 'float64' },
  );
  assertClose(principalComponentsFraction(x, [0.5, 0.85, 0.99]), [1 / 3, 2 / 3, 2 / 3], 'axis-aligned', 1e-12);
  e.dispose();
  x.dispose();
});
