// The SNR distance against pytorch-metric-learning 2.9.0 (test/fixtures/pml/distances.json,
// float64), and a distance written by a user (an L1 distance) in a loss and a miner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdist, grad, tidy, type Tensor } from '../../../src/engine/index.js';
import { BaseDistance, SNRDistance, makeDistance, type Distance } from '../../../src/ml/distances/index.js';
import { createLoss } from '../../../src/ml/losses/index.js';
import { PairMarginMiner } from '../../../src/ml/miners/index.js';
import { assertClose, f64, flat, labelsOf } from '../losses/helpers.js';
import { loadPml } from '../pml-fixtures.js';

interface Fixture {
  snr: {
    normalize: boolean;
    query: number[][];
    ref: number[][];
    weights: number[][];
    expected: { matrix: number[][]; grad: number[][] };
  }[];
  contrastive: {
    options: Record<string, number>;
    input: number[][];
    labels: number[];
    expected: { loss: number; grad: number[][] };
  };
}
const fx = loadPml<Fixture>('distances');

test('SNR distance: matrix and gradient as PML, normalised or not', () => {
  for (const c of fx.snr) {
    tidy(() => {
      const q = f64(c.query, true);
      const m = new SNRDistance({ normalize: c.normalize }).matrix(q, f64(c.ref));
      assertClose(m.dataNumbers(), flat(c.expected.matrix), `normalize=${c.normalize}: matrix`, 1e-12);
      const g = grad(m.mul(f64(c.weights)).sum(), [q])[0]!;
      assertClose(g.dataNumbers(), flat(c.expected.grad), `normalize=${c.normalize}: gradient`, 1e-11);
    });
  }
  // By name: normalises by default, as PML's SNRDistance().
  assert.equal(makeDistance('snr', { name: 'euclidean' }).normalize, true);
});

test('a contrastive loss on the SNR distance equals PML', () => {
  const c = fx.contrastive;
  const l = createLoss('contrastive', { ...c.options, distance: { name: 'snr' } });
  tidy(() => {
    const x = f64(c.input, true);
    const v = l.forward(x, labelsOf(c.labels));
    assertClose(v.item(), c.expected.loss, 'value', 1e-10);
    assertClose(grad(v, [x])[0]!.dataNumbers(), flat(c.expected.grad), 'gradient', 1e-10);
  });
});

/** What a user writes: an L1 distance. */
class ManhattanDistance extends BaseDistance {
  readonly name = 'manhattan';
  readonly isSimilarity = false;
  constructor() {
    super(false);
  }
  protected compute(q: Tensor, r: Tensor): Tensor {
    return cdist(q, r, 1);
  }
}

test('a user-supplied distance works in losses and miners', () => {
  const rows = [
    [0, 0],
    [1, 0.5],
    [3, 1],
    [0.5, 2],
    [2, 2],
  ];
  const labels = [0, 0, 1, 1, 0];
  const d = (i: number, j: number): number =>
    Math.abs(rows[i]![0]! - rows[j]![0]!) + Math.abs(rows[i]![1]! - rows[j]![1]!);
  // Contrastive with avgNonZero, written out: relu(d - 0.5) over positives, relu(2 - d) over negatives.
  const pos: number[] = [],
    neg: number[] = [];
  for (let i = 0; i < 5; i++)
    for (let j = 0; j < 5; j++)
      if (i !== j)
        (labels[i] === labels[j] ? pos : neg).push(
          labels[i] === labels[j] ? Math.max(d(i, j) - 0.5, 0) : Math.max(2 - d(i, j), 0),
        );
  const avg = (v: number[]): number => {
    const nz = v.filter((x) => x > 0);
    return nz.length ? nz.reduce((a, b) => a + b, 0) / nz.length : 0;
  };
  const l = createLoss('contrastive', { distance: new ManhattanDistance(), posMargin: 0.5, negMargin: 2 });
  tidy(() => assertClose(l.forward(f64(rows), labelsOf(labels)).item(), avg(pos) + avg(neg), 'contrastive'));
  const m = new PairMarginMiner({ distance: new ManhattanDistance(), posMargin: 2, negMargin: 1.6 }).mine(
    f64(rows),
    labelsOf(labels),
  );
  assert.ok(m.kind === 'pairs');
  m.a1.forEach((a, k) => assert.ok(d(a, m.p[k]!) > 2));
  m.a2.forEach((a, k) => assert.ok(d(a, m.n[k]!) < 1.6));
  assert.equal(m.a1.length + m.a2.length, 2 * 4, 'the pairs beyond the margins, both orders');
  // A distance object missing its methods is refused by name.
  assert.throws(
    () => createLoss('triplet', { distance: { name: 'half', matrix: () => f64([[0]]) } as unknown as Distance }),
    /needs matrix\(\), margin\(\) and isSimilarity .* half lacks margin, isSimilarity/,
  );
});
