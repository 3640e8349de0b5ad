// Every loss against its fixture, in float64, to 1e-5: value, gradient w.r.t. the input, the
// reference set and the learnable tables, and the tightness/contrastive split. The paper's losses
// come from the independent PyTorch loops of scripts/fixtures/make_loss_fixtures.py, the ones
// ported from pytorch-metric-learning from that library itself (scripts/fixtures/make_pml_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { grad, tidy, type Tensor } from '../../../src/engine/index.js';
import { createLoss, LOSS_SPECS, LogitLoss, MetricLoss, type LossName } from '../../../src/ml/losses/index.js';
import { MultiSimilarityMiner } from '../../../src/ml/miners/index.js';
import { assertClose, f64, FIXTURES, flat, labelsOf, loadFixture, tupleSet, type FixtureCase } from './helpers.js';

const names = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

function build(loss: string, c: FixtureCase): MetricLoss | LogitLoss {
  const options = { ...c.options } as Record<string, unknown>;
  if (c.miner) options.miner = new MultiSimilarityMiner({ epsilon: c.miner.epsilon });
  // PCE's softMean 'head': the classifier's weights are stored as a nested list.
  if (Array.isArray(options.head)) options.head = { weight: f64(options.head as number[][]) };
  const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(loss as LossName, options);
  if (Object.keys(c.params).length > 0) {
    l.to('float64');
    l.loadStateDict(new Map(Object.entries(c.params).map(([k, v]) => [k, f64(v)])));
  }
  return l;
}

test('every loss has a fixture file', () => {
  // Aliases build the same loss, so only the registry's own names need a fixture.
  assert.deepEqual(names, LOSS_SPECS.map((s) => s.name).sort());
});

for (const name of names) {
  const fx = loadFixture(name);
  for (const c of fx.cases) {
    test(`${name} / ${c.name}: value and gradients match the PyTorch loops`, () => {
      const l = build(name, c);
      tidy(() => {
        for (const h of c.history ?? []) (l as MetricLoss).forward(f64(h.input), labelsOf(h.labels));
        const x = f64(c.input, true);
        const y = labelsOf(c.labels);
        const params = Object.keys(c.params).map((k) => l.param(k)!);
        const ref = c.ref && { embeddings: f64(c.ref.input, true), labels: labelsOf(c.ref.labels) };
        // Miner cases: the loss mines for itself (the stored tuples are what the Python miner chose).
        const indices = c.miner ? undefined : c.indices;
        const value = l instanceof LogitLoss ? l.forward(x, y) : l.forward(x, y, indices, ref);
        assert.deepEqual(value.shape, [], 'a scalar loss');
        assertClose(value.item(), c.expected.loss, 'loss');
        const inputs = ref ? [x, ref.embeddings] : [x];
        const grads = grad(value, [...inputs, ...params], { allowUnused: true });
        const got = (g: Tensor | null, like: Tensor): number[] =>
          g ? g.dataNumbers() : new Array<number>(like.numel()).fill(0);
        assertClose(got(grads[0]!, x), flat(c.expected.grad.input!), 'd loss / d input');
        if (ref) assertClose(got(grads[1]!, ref.embeddings), flat(c.expected.grad.ref!), 'd loss / d ref');
        Object.keys(c.params).forEach((k, i) =>
          assertClose(got(grads[i + inputs.length]!, params[i]!), flat(c.expected.grad[k]!), `d loss / d ${k}`),
        );
        if (c.expected.split) {
          const s = l instanceof LogitLoss ? l.split(x, y) : l.split(x, y, indices);
          assertClose(s.tightness.item(), c.expected.split.tightness, 'split: tightness');
          assertClose(s.contrastive.item(), c.expected.split.contrastive, 'split: contrastive');
          assertClose(s.other?.item() ?? 0, c.expected.split.other ?? 0, 'split: other');
        }
      });
      l.dispose();
    });
  }
}

test('triplet miners select the same triplets as the Python loops', () => {
  const fx = loadFixture('triplet');
  let compared = 0;
  for (const c of fx.cases) {
    if (!c.mined || c.indices || c.name.startsWith('all-equal')) continue; // all-equal: every distance ties
    const mining = (c.options.mining as string | undefined) ?? 'all';
    if (mining === 'all') continue;
    const l = build('triplet', c) as MetricLoss;
    const x = f64(c.input),
      y = labelsOf(c.labels);
    const got = l.miner!.mine(x, y);
    assert.deepEqual(tupleSet(got), tupleSet(c.mined), `${c.name}: mined triplets`);
    compared++;
  }
  assert.ok(compared >= 6, `compared ${compared} cases`);
});

test('the multi-similarity miner selects the pairs of the Python loop', () => {
  const fx = loadFixture('multi-similarity');
  const cases = fx.cases.filter((c) => c.miner);
  assert.equal(cases.length, 2);
  for (const c of cases) {
    const got = new MultiSimilarityMiner({ epsilon: c.miner!.epsilon }).mine(f64(c.input), labelsOf(c.labels));
    assert.deepEqual(tupleSet(got), tupleSet(c.indices!), `${c.name}`);
    assert.ok(got.kind === 'pairs' && got.a1.length > 0 && got.a2.length > 0, 'mines some positives and negatives');
  }
});
