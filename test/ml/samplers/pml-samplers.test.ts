// The hierarchical, fixed-triplet and tuples-to-weights samplers: the batches PML's definitions
// call for, reproducible from (seed, epoch); tuple weights against PML's convert_to_weights
// (test/fixtures/pml/samplers.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FixedSetOfTriplets,
  HierarchicalSampler,
  TuplesToWeightsSampler,
  tupleWeights,
} from '../../../src/ml/samplers/index.js';
import { PackagedTripletsMiner } from '../../../src/ml/miners/index.js';
import { createLoss, type MinedTuples } from '../../../src/ml/losses/index.js';
import { tidy } from '../../../src/engine/index.js';
import { assertClose, f64, labelsOf } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

/** 4 super-labels × 6 classes of 3-5 samples (SOP's shape in miniature). */
function hierarchy(): { labels: number[]; superLabels: number[] } {
  const labels: number[] = [],
    superLabels: number[] = [];
  for (let s = 0; s < 4; s++)
    for (let c = 0; c < 6; c++)
      for (let k = 0; k < 3 + ((s + c) % 3); k++) {
        labels.push(s * 6 + c);
        superLabels.push(s);
      }
  return { labels, superLabels };
}

test('hierarchical batches: two super-labels each, whole classes of m, each pair of super-labels equally often', () => {
  const { labels, superLabels } = hierarchy();
  const s = new HierarchicalSampler({
    labels,
    superLabels,
    batchSize: 16,
    samplesPerClass: 4,
    batchesPerSuperTuple: 3,
    seed: 7,
  });
  assert.equal(s.batchesPerEpoch, 6 * 3);
  const batches = s.epoch(0);
  assert.equal(batches.length, 18);
  const pairs = new Map<string, number>();
  for (const b of batches) {
    assert.equal(b.length, 16);
    const supers = [...new Set(b.map((i) => superLabels[i]!))].sort();
    assert.equal(supers.length, 2);
    pairs.set(supers.join(), (pairs.get(supers.join()) ?? 0) + 1);
    const perClass = new Map<number, number>();
    for (const i of b) perClass.set(labels[i]!, (perClass.get(labels[i]!) ?? 0) + 1);
    assert.deepEqual([...perClass.values()], [4, 4, 4, 4], 'two classes of 4 per super-label');
    for (const sl of supers) assert.equal(b.filter((i) => superLabels[i] === sl).length, 8);
  }
  assert.deepEqual([...pairs.values()], [3, 3, 3, 3, 3, 3]);
  assert.deepEqual(s.epoch(0), batches, 'reproducible');
  assert.notDeepEqual(s.epoch(1), batches, 'another epoch, other batches');
  // 'all': whole classes, as many as fit in each share.
  const all = new HierarchicalSampler({ labels, superLabels, batchSize: 24, samplesPerClass: 'all', seed: 1 });
  for (const b of all.epoch(0)) {
    const perClass = new Map<number, number>();
    for (const i of b) perClass.set(labels[i]!, (perClass.get(labels[i]!) ?? 0) + 1);
    for (const [c, k] of perClass) assert.equal(k, labels.filter((l) => l === c).length);
    assert.ok(b.length <= 24 && new Set(b).size === b.length);
  }
  assert.throws(
    () => new HierarchicalSampler({ labels, superLabels, batchSize: 18, samplesPerClass: 4 }),
    /multiple of samplesPerClass/,
  );
});

test('a fixed set of triplets: valid, the same each epoch, packaged whole into batches (PackagedTripletsMiner)', () => {
  const labels = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3];
  const s = new FixedSetOfTriplets({ labels, numTriplets: 20, batchSize: 12, seed: 5 });
  assert.equal(s.triplets.length, 20);
  for (const [a, p, n] of s.triplets) {
    assert.ok(a !== p && labels[a] === labels[p] && labels[n] !== labels[a]);
    assert.notEqual(labels[a], 2, 'the singleton class is never an anchor class');
  }
  const e0 = s.epoch(0),
    e1 = s.epoch(1);
  assert.equal(e0.length, 5);
  const asSet = (bs: number[][]): string[] =>
    bs.flatMap((b) => Array.from({ length: b.length / 3 }, (_, t) => b.slice(3 * t, 3 * t + 3).join())).sort();
  assert.deepEqual(asSet(e0), asSet(e1), 'one fixed set, reshuffled');
  assert.deepEqual(asSet(e0), s.triplets.map((t) => t.join()).sort());
  // Whole triplets: the batch's rows (3t, 3t+1, 3t+2) are a triplet, which the triplet loss reads.
  const batch = e0[0]!;
  const emb = batch.map((i) => [Math.cos(i), Math.sin(2 * i), i / 10]);
  const loss = createLoss('triplet', { miner: new PackagedTripletsMiner(), margin: 0.3, reducer: 'mean' });
  tidy(() => {
    const y = labelsOf(batch.map((i) => labels[i]!));
    const d = (u: number[], v: number[]): number => {
      const nu = Math.hypot(...u),
        nv = Math.hypot(...v);
      return Math.hypot(...u.map((x, k) => x / nu - v[k]! / nv));
    };
    let sum = 0;
    for (let t = 0; t < 4; t++)
      sum += Math.max(d(emb[3 * t]!, emb[3 * t + 1]!) - d(emb[3 * t]!, emb[3 * t + 2]!) + 0.3, 0);
    assertClose(loss.forward(f64(emb), y).item(), sum / 4, 'mean over the packaged triplets', 1e-12);
  });
});

interface Fixture {
  convertToWeights: { tuples: MinedTuples; n: number; weights: number[] }[];
}

test("tuple weights equal PML's convert_to_weights; draws follow them (χ²) and skip weight 0", () => {
  for (const c of loadPml<Fixture>('samplers').convertToWeights)
    assertClose(tupleWeights(c.tuples, c.n), c.weights, c.tuples.kind, 1e-15);
  assert.deepEqual([...tupleWeights(undefined, 3)], [1, 1, 1]);
  const s = new TuplesToWeightsSampler({ size: 8, batchSize: 50, length: 4000, seed: 2 });
  // Embedded rows 2..6 of the data set; tuples name positions among them. Appearances: 2, 2, 2, 3, 0.
  s.setWeights([2, 3, 4, 5, 6], { kind: 'triplets', a: [0, 0, 1], p: [1, 2, 2], n: [3, 3, 3] }, 6000);
  assert.deepEqual([...s.weights], [0, 0, 2 / 3, 2 / 3, 2 / 3, 1, 0, 0]);
  const counts = new Float64Array(8);
  for (const b of s.epoch(0)) for (const i of b) counts[i]!++;
  const total = 6000,
    sumW = 3;
  let chi2 = 0;
  s.weights.forEach((w, i) => {
    if (w === 0) assert.equal(counts[i], 0, `row ${i}`);
    else chi2 += (counts[i]! - (total * w) / sumW) ** 2 / ((total * w) / sumW);
  });
  assert.ok(chi2 < 16.3, `χ² = ${chi2} (3 degrees of freedom)`); // 99.9th percentile
  assert.deepEqual(s.epoch(3), s.epoch(3));
});
