// The miners against pytorch-metric-learning 2.9.0 (test/fixtures/pml/miners.json, float64): the
// deterministic ones select the same tuples; the random ones draw from PML's weights or bins.
// Then half precision: tuples mined from float16/bfloat16 embeddings equal those of their float32
// values, where PML's multi-similarity miner lost its pairs under autocast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy } from '../../../src/engine/index.js';
import {
  createMiner,
  DistanceWeightedMiner,
  linspace,
  MINER_NAMES,
  UniformHistogramMiner,
  type Miner,
  type MinerName,
} from '../../../src/ml/miners/index.js';
import { allPairs, allTriplets, type MinedTuples } from '../../../src/ml/losses/index.js';
import { assertClose, f64, labelsOf, tupleSet } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

interface MinerSpec {
  miner: MinerName;
  options: Record<string, unknown>;
}
interface Case extends MinerSpec {
  input: number[][];
  labels: number[];
  expected: MinedTuples;
}
interface Fixture {
  cases: Case[];
  distanceWeighted: { options: Record<string, number>; input: number[][]; labels: number[]; weights: number[][] }[];
  uniformHistogram: {
    options: Record<string, number>;
    input: number[][];
    labels: number[];
    pos: { edges: number[]; counts: number[] };
    neg: { edges: number[]; counts: number[] };
  }[];
}
const fx = loadPml<Fixture>('miners');

function build(s: MinerSpec): Miner {
  const o = { ...s.options };
  if (typeof o.miner === 'object') o.miner = build(o.miner as MinerSpec);
  return createMiner(s.miner, o);
}

/**
 * Pairs as unordered: HDC keeps the k hardest of the ordered pairs, and (i, j) and (j, i) have the
 * same distance, so at the cut PML's torch.topk and our stable sort may keep different twins.
 */
function unordered(t: MinedTuples): { pos: string[]; neg: string[] } {
  const u = (a: readonly number[], b: readonly number[]): string[] =>
    a.map((x, k) => [x, b[k]!].sort((p, q) => p - q).join(',')).sort();
  return t.kind === 'pairs' ? { pos: u(t.a1, t.p), neg: u(t.a2, t.n) } : tupleSet(t);
}

test('every deterministic miner selects the tuples PML selects', () => {
  for (const c of fx.cases) {
    const got = tidy(() => build(c).mine(f64(c.input), labelsOf(c.labels)));
    const what = `${c.miner} ${JSON.stringify(c.options)}`;
    assert.equal(got.kind, c.expected.kind, `${what}: kind`);
    if (c.miner === 'hdc') assert.deepEqual(unordered(got), unordered(c.expected), what);
    else assert.deepEqual(tupleSet(got), tupleSet(c.expected), what);
  }
  // Every registered miner is covered here or by the random-miner tests below.
  const covered = new Set([...fx.cases.map((c) => c.miner), 'distance-weighted', 'uniform-histogram']);
  for (const n of MINER_NAMES) if (n !== 'triplet-margin' && n !== 'multi-similarity') assert.ok(covered.has(n), n);
});

test("the distance-weighted miner's weights are PML's; its negatives are drawn only where they are non-zero", () => {
  for (const c of fx.distanceWeighted) {
    const m = new DistanceWeightedMiner({ ...c.options, seed: 3 });
    const x = f64(c.input),
      y = labelsOf(c.labels);
    const { w, n } = m.weights(x, y);
    assertClose(w, c.weights.flat(), `weights ${JSON.stringify(c.options)}`, 1e-9);
    const t = m.mine(x, y);
    assert.equal(t.kind, 'triplets');
    const counts = new Map<number, number>();
    for (const l of c.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    // Each anchor with a non-zero row gets as many triplets as its class has members.
    const expected = c.labels.reduce(
      (s, l, i) => s + (counts.get(l)! >= 2 && c.weights[i]!.some((v) => v > 0) ? counts.get(l)! : 0),
      0,
    );
    assert.equal(t.a.length, expected, 'triplets');
    t.a.forEach((a, k) => {
      assert.ok(a !== t.p[k] && c.labels[a] === c.labels[t.p[k]!], 'a positive');
      assert.ok(w[a * n + t.n[k]!]! > 0, `negative ${t.n[k]} of anchor ${a} has weight 0`);
    });
  }
});

test('distance-weighted negatives follow the weights (2000 draws on one anchor row, χ² test)', () => {
  const c = fx.distanceWeighted[1]!;
  const m = new DistanceWeightedMiner({ seed: 9 });
  const x = f64(c.input),
    y = labelsOf(c.labels);
  const { w, n } = m.weights(x, y);
  const hits = new Float64Array(n);
  let draws = 0;
  while (draws < 2000) {
    const t = m.mine(x, y);
    t.a.forEach((a, k) => {
      if (a === 0) {
        hits[t.n[k]!]!++;
        draws++;
      }
    });
  }
  let chi2 = 0,
    dof = -1;
  for (let j = 0; j < n; j++) {
    const e = w[j]! * draws;
    if (e > 0) {
      chi2 += (hits[j]! - e) ** 2 / e;
      dof++;
    } else assert.equal(hits[j], 0, `column ${j} has weight 0 but was drawn`);
  }
  // 99.9th percentile of χ² with ≤ 12 degrees of freedom is below 33; a wrong law lands far above.
  assert.ok(chi2 < 33, `χ² = ${chi2.toFixed(1)} with ${dof} degrees of freedom`);
});

test('the uniform-histogram miner bins as PML does and draws perBin pairs from every non-empty bin', () => {
  for (const c of fx.uniformHistogram) {
    const m = new UniformHistogramMiner({ ...c.options, seed: 1 });
    const x = f64(c.input),
      y = labelsOf(c.labels);
    const t = m.mine(x, y);
    assert.equal(t.kind, 'pairs');
    const mat = tidy(() => m.distance.matrix(x).dataNumbers());
    const n = c.labels.length,
      all = allPairs(c.labels);
    for (const [side, a, o, ref, per] of [
      ['pos', t.a1, t.p, c.pos, c.options.posPerBin!],
      ['neg', t.a2, t.n, c.neg, c.options.negPerBin!],
    ] as const) {
      const [aa, oo] = side === 'pos' ? [all.a1, all.p] : [all.a2, all.n];
      const v = aa.map((i, k) => mat[i * n + oo[k]!]!);
      const edges = linspace(Math.min(...v), Math.max(...v), c.options.numBins! + 1);
      assertClose(edges, ref.edges, `${side} edges`, 1e-12);
      const counts = ref.edges.slice(0, -1).map((lo, b) => {
        const hi = ref.edges[b + 1]!,
          last = b === ref.edges.length - 2;
        return a.filter((i, k) => {
          const d = mat[i * n + o[k]!]!;
          return lo <= d && (last ? d <= hi : d < hi);
        }).length;
      });
      assert.deepEqual(counts, ref.counts, `${side}: pairs per bin`);
      assert.ok(ref.counts.every((k) => k === 0 || k === per));
    }
  }
});

test('random miners are reproducible from their seed and advance with each call', () => {
  const c = fx.distanceWeighted[0]!;
  const x = f64(c.input),
    y = labelsOf(c.labels);
  const a = new DistanceWeightedMiner({ seed: 4 }),
    b = new DistanceWeightedMiner({ seed: 4 });
  const first = a.mine(x, y);
  assert.deepEqual(first, b.mine(x, y));
  assert.notDeepEqual(a.mine(x, y), first);
});

/** Embeddings whose float16 squared norms overflow (> 65504), in four classes. */
function bigBatch(): { x: number[][]; labels: number[] } {
  const labels = [0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 2, 3];
  const x = labels.map((l, i) =>
    Array.from({ length: 8 }, (_, k) => 300 * Math.cos(1.3 * l + 0.7 * k) + 250 * Math.sin(2.1 * i + 1.7 * k)),
  );
  return { x, labels };
}

for (const dtype of ['float16', 'bfloat16'] as const) {
  test(`every miner on ${dtype} embeddings mines what it mines on their float32 values`, () => {
    const { x, labels } = bigBatch();
    const half = tensor(x, { dtype });
    const widened = half.to('float32');
    const y = labelsOf(labels);
    for (const name of MINER_NAMES) {
      if (name === 'distance-weighted' || name === 'uniform-histogram') continue; // drawn below
      const a = createMiner(name).mine(half, y),
        b = createMiner(name).mine(widened, y);
      assert.deepEqual(tupleSet(a), tupleSet(b), name);
    }
    // The multi-similarity miner keeps pairs (PML's overflowed to none), and only valid ones.
    const ms = createMiner('multi-similarity').mine(half, y);
    assert.ok(ms.kind === 'pairs' && ms.a1.length > 0 && ms.a2.length > 0);
    for (const name of ['distance-weighted', 'uniform-histogram'] as const) {
      const a = createMiner(name, { seed: 2 }).mine(half, y),
        b = createMiner(name, { seed: 2 }).mine(widened, y);
      assert.deepEqual(a, b, name);
    }
    half.dispose();
    widened.dispose();
  });
}

test('the packaged-triplets miner needs whole triplets', () => {
  const x = f64(allTriplets([0, 0, 1]).a.map(() => [1, 2]));
  assert.throws(() => createMiner('packaged-triplets').mine(x, labelsOf([0])), /not whole triplets/);
  assert.throws(() => createMiner('hdc', { filterPercent: 0.5 }), /unknown option 'filterPercent'/);
  assert.throws(() => createMiner('batch-easy-hard', { posStrategy: 'semihard', negStrategy: 'semihard' }), /both/);
  assert.throws(() => createMiner('nope' as MinerName), /unknown miner 'nope'/);
});
