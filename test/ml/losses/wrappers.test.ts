// The loss wrappers (MultipleLosses, SelfSupervisedLoss, CrossBatchMemory) and VICReg against
// pytorch-metric-learning 2.9.0 (test/fixtures/loss-wrappers, scripts/fixtures/make_pml_fixtures.py):
// value and gradients in float64 to 1e-5, over several steps for the memory. Then what the
// fixtures do not show: the memory's FIFO order and wrap-around, its state across save and load,
// and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { grad, randn, tidy, Generator, type Tensor } from '../../../src/engine/index.js';
import {
  ContrastiveLoss,
  CrossBatchMemory,
  createLoss,
  MultipleLosses,
  ProxyAnchorLoss,
  SelfSupervisedLoss,
  SupConLoss,
  TripletMarginLoss,
  VICRegLoss,
  LiftedStructureLoss,
  type LossName,
  type MetricLoss,
} from '../../../src/ml/losses/index.js';
import { BatchHardMiner, MultiSimilarityMiner } from '../../../src/ml/miners/index.js';
import { assertClose, f64, FIXTURES, flat, labelsOf } from './helpers.js';

const WRAPPERS = path.join(FIXTURES, '..', 'loss-wrappers');
interface Expected {
  loss: number;
  grad: { input: number[][]; ref?: number[][] };
}
interface Step {
  input: number[][];
  labels: number[];
  enqueueMask?: boolean[];
  expected: Expected;
}
/** One case of any of the four files; each test reads the fields its file has. */
interface Case {
  name: string;
  loss: string;
  options: object;
  symmetric: boolean;
  input: number[][];
  ref: number[][];
  labels: number[];
  expected: Expected;
  memorySize: number;
  miner: { epsilon: number } | null;
  steps: Step[];
}
const load = (name: string): Case[] =>
  (JSON.parse(readFileSync(path.join(WRAPPERS, `${name}.json`), 'utf8')) as { cases: Case[] }).cases;
const make = (name: string, options: object): MetricLoss =>
  (createLoss as (n: LossName, o: object) => MetricLoss)(name as LossName, options);

function check(value: Tensor, inputs: Tensor[], e: Expected, what: string): void {
  assertClose(value.item(), e.loss, `${what}: loss`);
  const g = grad(value, inputs, { allowUnused: true });
  const got = (t: Tensor | null, like: Tensor): number[] => t?.dataNumbers() ?? new Array(like.numel()).fill(0);
  assertClose(got(g[0]!, inputs[0]!), flat(e.grad.input), `${what}: d loss / d input`);
  if (inputs[1]) assertClose(got(g[1]!, inputs[1]), flat(e.grad.ref!), `${what}: d loss / d ref`);
}

test('MultipleLosses: weighted sum with a per-loss miner, as pytorch-metric-learning', () => {
  for (const c of load('multiple-losses')) {
    const l = new MultipleLosses([new ContrastiveLoss(), new TripletMarginLoss({ margin: 0.2 })], {
      weights: [1, 0.5],
      miners: [undefined, new MultiSimilarityMiner({ epsilon: 0.3 })],
    });
    tidy(() => {
      const x = f64(c.input, true);
      check(l.forward(x, labelsOf(c.labels)), [x], c.expected, c.name);
    });
  }
});

test('SelfSupervisedLoss: two views, symmetric and not, as pytorch-metric-learning', () => {
  const cases = load('self-supervised');
  assert.equal(cases.length, 5);
  for (const c of cases) {
    const l = new SelfSupervisedLoss(make(c.loss, c.options), {
      symmetric: c.symmetric,
    });
    tidy(() => {
      const x = f64(c.input, true),
        r = f64(c.ref, true);
      check(l.forward(x, r), [x, r], c.expected, c.name);
    });
  }
});

test('VICReg: invariance, variance and covariance terms, as pytorch-metric-learning', () => {
  for (const c of load('vicreg')) {
    const l = new VICRegLoss(c.options);
    tidy(() => {
      const x = f64(c.input, true),
        r = f64(c.ref, true);
      check(l.forward(x, r), [x, r], c.expected, c.name);
    });
  }
});

test('CrossBatchMemory: a run of batches through one memory, step by step, as pytorch-metric-learning', () => {
  const cases = load('cross-batch-memory');
  assert.equal(cases.length, 5);
  for (const c of cases) {
    const inner = make(c.loss, c.options);
    const xbm = new CrossBatchMemory(inner, {
      embeddingSize: 4,
      memorySize: c.memorySize,
      miner: c.miner ? new MultiSimilarityMiner({ epsilon: c.miner.epsilon }) : undefined,
    });
    xbm.to('float64');
    c.steps.forEach((s, k) =>
      tidy(() => {
        const x = f64(s.input, true),
          y = labelsOf(s.labels);
        const v = s.enqueueMask ? xbm.forwardMasked(x, y, s.enqueueMask) : xbm.forward(x, y);
        check(v, [x], s.expected, `${c.name}, step ${k + 1}`);
      }),
    );
  }
});

test('CrossBatchMemory keeps the newest rows in FIFO order, wraps around, and survives save and load', () => {
  const xbm = new CrossBatchMemory(new ContrastiveLoss(), { embeddingSize: 3, memorySize: 5 });
  const g = new Generator(3);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let step = 0; step < 4; step++) {
    const x = randn([2, 3], { generator: g });
    rows.push(...(x.tolist() as number[][]));
    labels.push(step, step + 10);
    xbm.forward(x, labelsOf([step, step + 10])).dispose();
  }
  // 8 rows through 5 slots: slot k holds row 5 + k for k < 3, row k for k = 3, 4.
  assert.deepEqual(xbm.queueState, { next: 3, filled: true, calls: 4 });
  const expectRows = [5, 6, 7, 3, 4].map((i) => rows[i]!);
  assertClose(xbm.embeddingMemory.dataNumbers(), expectRows.flat(), 'memory rows');
  assert.deepEqual(
    xbm.labelMemory.dataNumbers(),
    [5, 6, 7, 3, 4].map((i) => labels[i]!),
  );
  const copy = new CrossBatchMemory(new ContrastiveLoss(), { embeddingSize: 3, memorySize: 5 });
  copy.loadStateDict(xbm.stateDict());
  assert.deepEqual(copy.queueState, xbm.queueState);
  const x = randn([2, 3], { generator: g }),
    y = labelsOf([1, 5]);
  assert.equal(copy.forward(x, y).item(), xbm.forward(x, y).item());
  assert.deepEqual([...xbm.stateDict().keys()], ['embedding_memory', 'label_memory', 'queue']);
  xbm.resetQueue();
  assert.equal(xbm.size, 0);
});

test('CrossBatchMemory with startAfter: the wrapped loss on the batch alone, nothing stored, until then', () => {
  const g = new Generator(9);
  const xbm = new CrossBatchMemory(new ContrastiveLoss(), { embeddingSize: 3, memorySize: 8, startAfter: 2 });
  const plain = new ContrastiveLoss();
  const y = labelsOf([0, 0, 1, 1]);
  for (let step = 0; step < 3; step++) {
    const x = randn([4, 3], { generator: g });
    const v = xbm.forward(x, y).item();
    if (step < 2) {
      assert.equal(v, plain.forward(x, y).item(), `step ${step}: the batch alone`);
      assert.equal(xbm.size, 0, `step ${step}: nothing stored`);
    } else assert.equal(xbm.size, 4, 'the memory starts at the third call');
  }
  assert.equal(xbm.queueState.calls, 3);
  assert.throws(
    () => new CrossBatchMemory(new ContrastiveLoss(), { embeddingSize: 3, startAfter: -1 }),
    /startAfter must be a non-negative integer/,
  );
});

test('CrossBatchMemory leaves out the pair of a row with its own stored copy', () => {
  // A first batch of two samples of one class: the memory holds exactly them, so each anchor's only
  // positive is the other sample, never itself (distance 0 would make the positive term vanish).
  const x = f64([
    [1, 0],
    [0, 1],
  ]);
  const y = labelsOf([0, 0]);
  const v = new CrossBatchMemory(new ContrastiveLoss({ reducer: 'mean' }), { embeddingSize: 2, memorySize: 4 })
    .to('float64')
    .forward(x, y);
  assertClose(v.item(), Math.SQRT2, 'the two ordered positive pairs at distance √2');
});

test('CrossBatchMemory uses the wrapped loss’s miner against the memory, and refuses what it cannot do', () => {
  const mined = new CrossBatchMemory(new TripletMarginLoss({ mining: 'hard' }), { embeddingSize: 4, memorySize: 16 });
  assert.ok(mined.memoryMiner instanceof BatchHardMiner);
  const x = randn([6, 4], { generator: new Generator(5) });
  const v = mined.forward(x, labelsOf([0, 0, 1, 1, 2, 2]));
  assert.ok(Number.isFinite(v.item()));
  assert.throws(
    () => new CrossBatchMemory(new ProxyAnchorLoss({ numClasses: 3, embeddingSize: 4 }), { embeddingSize: 4 }),
    /CrossBatchMemory: ProxyAnchorLoss does not compare a batch with a reference set/,
  );
  assert.throws(
    () => new CrossBatchMemory(new LiftedStructureLoss(), { embeddingSize: 4 }),
    /LiftedStructureLoss does not compare a batch with a reference set/,
  );
  const small = new CrossBatchMemory(new ContrastiveLoss(), { embeddingSize: 4, memorySize: 4 });
  assert.throws(() => small.forward(x, labelsOf([0, 0, 1, 1, 2, 2])), /has 6 rows to store but the memory holds 4/);
  assert.throws(() => small.forward(randn([2, 3]), labelsOf([0, 0])), /embeddingSize 4/);
  assert.throws(
    () => small.forward(x.narrow(0, 0, 2), labelsOf([0, 0]), { kind: 'pairs', a1: [], p: [], a2: [], n: [] }),
    /indices are chosen against the memory/,
  );
  assert.throws(() => small.forwardMasked(x, labelsOf([0, 0, 1, 1, 2, 2]), [true]), /enqueueMask has 1 entries/);
});

test('losses given a reference set check it, and those that cannot take one say so', () => {
  const x = randn([4, 3]),
    y = labelsOf([0, 0, 1, 1]);
  assert.throws(
    () =>
      new ProxyAnchorLoss({ numClasses: 2, embeddingSize: 3 }).forward(x, y, undefined, { embeddings: x, labels: y }),
    /ProxyAnchorLoss: ref is not supported by this loss/,
  );
  assert.throws(
    () =>
      new ContrastiveLoss().forward(x, y, undefined, { embeddings: randn([5, 2]), labels: labelsOf([0, 1, 2, 3, 4]) }),
    /ContrastiveLoss: ref.embeddings are \[5, 2\] float32, the batch \[4, 3\] float32: the dimension and dtype/,
  );
  assert.throws(
    () => new ContrastiveLoss().forward(x, y, undefined, { embeddings: randn([5, 3]), labels: labelsOf([0, 1]) }),
    /ContrastiveLoss: ref.labels has length 2 but the batch has 5 rows/,
  );
  // Tuples then point into the reference set: (0, 0) is a positive pair there.
  const ref = { embeddings: randn([2, 3]), labels: labelsOf([0, 1]) };
  assert.ok(
    Number.isFinite(
      new ContrastiveLoss().forward(x, y, { kind: 'pairs', a1: [0], p: [0], a2: [0], n: [1] }, ref).item(),
    ),
  );
  assert.throws(
    () => new ContrastiveLoss().forward(x, y, { kind: 'pairs', a1: [0], p: [2], a2: [], n: [] }, ref),
    /indices\.p\[0\] = 2 is not a row of the reference set \(0\.\.1\)/,
  );
  // A miner that only mines within a batch is refused rather than misread.
  const withMiner = new ContrastiveLoss({
    miner: { name: 'PlainMiner', mine: () => ({ kind: 'pairs', a1: [], p: [], a2: [], n: [] }) },
  });
  assert.throws(() => withMiner.forward(x, y, undefined, ref), /ref cannot be mined by PlainMiner/);
});

test('SelfSupervisedLoss and MultipleLosses refuse what they cannot do', () => {
  assert.throws(
    () => new SelfSupervisedLoss(new ProxyAnchorLoss({ numClasses: 2, embeddingSize: 3 })),
    /ProxyAnchorLoss does not compare samples with each other/,
  );
  assert.throws(
    () => new SelfSupervisedLoss(new LiftedStructureLoss(), { symmetric: false }),
    /symmetric false needs a loss that takes a reference set/,
  );
  assert.throws(
    () => new MultipleLosses([new SupConLoss()], { weights: [1, 2] }),
    /weights has 2 entries for 1 losses/,
  );
  const ml = new MultipleLosses([new SupConLoss()], { miners: [new MultiSimilarityMiner()] });
  assert.throws(
    () => ml.forward(randn([4, 3]), labelsOf([0, 0, 1, 1]), { kind: 'pairs', a1: [], p: [], a2: [], n: [] }),
    /indices cannot be given when the losses have their own miners/,
  );
  const table = new MultipleLosses([
    new ContrastiveLoss(),
    new ProxyAnchorLoss({ numClasses: 2, embeddingSize: 3, seed: 1 }),
  ]);
  assert.deepEqual([...table.stateDict().keys()], ['losses.1.proxies']);
  assert.equal(table.parameters().length, 1, 'the proxies are trained with the sum');
  assert.throws(() => new VICRegLoss().forward(randn([1, 3]), randn([1, 3])), /need at least 2 rows/);
});
