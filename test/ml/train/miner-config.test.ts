// dml train's miner.name / miner.options: any miner for any loss on mined tuples, configured as
// the loss is, checked by name; and the PartialFC options of the softmax heads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy } from '../../../src/engine/index.js';
import { resolveConfig } from '../../../src/ml/run/config/resolve.js';
import { makeLoss } from '../../../src/ml/train/wiring.js';
import type { TrainLoss } from '../../../src/ml/train/types.js';
import { createLoss } from '../../../src/ml/losses/index.js';
import { BatchEasyHardMiner, DistanceWeightedMiner, PairMarginMiner } from '../../../src/ml/miners/index.js';
import { mixSeed, STREAM } from '../../../src/ml/random.js';
import { f64, labelsOf } from '../losses/helpers.js';

const x = Array.from({ length: 12 }, (_, i) => [Math.cos(i), Math.sin(1.3 * i), Math.cos(0.4 * i + 1)]);
const y = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];

/** The loss the trainer would compute on the batch (features as logits too: unused here). */
function value(l: TrainLoss): number {
  return tidy(() => {
    const f = f64(x);
    return l.compute({ features: f, logits: f }, labelsOf(y)).item();
  });
}

test('miner.name and miner.options attach the miner to the loss, options as typed on the command line', () => {
  const cfg = resolveConfig({
    overrides: [
      'loss.name=contrastive',
      'miner.name=pair-margin',
      'miner.options.posMargin=0.3',
      'miner.options.distance=cosine',
    ],
  });
  assert.deepEqual(cfg.miner, { name: 'pair-margin', options: { posMargin: 0.3, distance: 'cosine' } });
  const expected = createLoss('contrastive', {
    miner: new PairMarginMiner({ posMargin: 0.3, distance: { name: 'cosine' } }),
  });
  const plain = createLoss('contrastive');
  const got = value(makeLoss(cfg, 4, 3));
  assert.equal(
    got,
    tidy(() => expected.forward(f64(x), labelsOf(y)).item()),
  );
  assert.notEqual(
    got,
    tidy(() => plain.forward(f64(x), labelsOf(y)).item()),
    'the miner changes the loss',
  );
  // Replaces a loss's own mining (triplet mining=hard → the configured miner).
  const hard = resolveConfig({
    overrides: ['loss.name=triplet', 'loss.options.mining=hard', 'miner.name=batch-easy-hard'],
  });
  const viaConfig = value(makeLoss(hard, 4, 3));
  const byHand = createLoss('triplet', { mining: 'hard', miner: new BatchEasyHardMiner() });
  assert.equal(
    viaConfig,
    tidy(() => byHand.forward(f64(x), labelsOf(y)).item()),
  );
});

test('a random miner is seeded from the run seed; the same run mines the same', () => {
  const cfg = resolveConfig({ overrides: ['loss.name=triplet', 'miner.name=distance-weighted', 'seed=5'] });
  const a = value(makeLoss(cfg, 4, 3)),
    b = value(makeLoss(cfg, 4, 3));
  assert.equal(a, b);
  const byHand = createLoss('triplet', { miner: new DistanceWeightedMiner({ seed: mixSeed(5, STREAM.miners) }) });
  assert.equal(
    a,
    tidy(() => byHand.forward(f64(x), labelsOf(y)).item()),
  );
});

test('miner settings are checked: the name, its options, and whether the loss reads tuples', () => {
  assert.throws(
    () => resolveConfig({ overrides: ['miner.options.epsilon=0.2'] }),
    /'miner.options' is set but 'miner.name' is empty/,
  );
  assert.throws(
    () => makeLoss(resolveConfig({ overrides: ['loss.name=triplet', 'miner.name=hardest'] }), 4, 3),
    /unknown miner 'hardest'/,
  );
  assert.throws(
    () =>
      makeLoss(resolveConfig({ overrides: ['loss.name=triplet', 'miner.name=hdc', 'miner.options.filter=0.2'] }), 4, 3),
    /miner 'hdc': unknown option 'filter'/,
  );
  assert.throws(
    () => makeLoss(resolveConfig({ overrides: ['loss.name=norm-softmax', 'miner.name=hdc'] }), 4, 3),
    /loss 'norm-softmax' does not use mined pairs or triplets/,
  );
});

test('loss.options.sampleRate and loss.options.shard reach the softmax heads (one process: an unsharded head)', () => {
  const cfg = resolveConfig({
    overrides: ['loss.name=arcface', 'loss.options.sampleRate=0.5', 'loss.options.shard=true'],
  });
  const l = makeLoss(cfg, 10, 3);
  assert.equal(l.shards, undefined);
  assert.ok(l.module && l.module.stateDict().has('sample_step'));
  assert.throws(
    () => makeLoss(resolveConfig({ overrides: ['loss.name=triplet', 'loss.options.shard=true'] }), 4, 3),
    /unknown option 'shard'/,
  );
});
