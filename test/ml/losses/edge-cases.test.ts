// Degenerate batches and bad inputs: every loss either gives a defined value and gradient, or a
// clear error naming the loss and the argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, liveTensors, noGrad, randn, tensor, tidy, Generator, type Tensor } from '../../../src/engine/index.js';
import {
  createLoss,
  LOSS_NAMES,
  LogitLoss,
  LossInputError,
  MetricLoss,
  TripletMarginLoss,
  ContrastiveLoss,
  SmoothCrossEntropyLoss,
  CrossEntropyLoss,
  ProxyNCALoss,
  needsClassTable,
  type LossName,
} from '../../../src/ml/losses/index.js';
import { f64, labelsOf } from './helpers.js';

const D = 4,
  C = 5;
function make(name: LossName): MetricLoss | LogitLoss {
  const o = needsClassTable(name) ? { numClasses: C, embeddingSize: D, seed: 1 } : {};
  const l = (createLoss as (n: LossName, o: object) => MetricLoss | LogitLoss)(name, o);
  if (l.numParameters() > 0 || name === 'margin') l.to('float64');
  return l;
}
const batch = (n: number, seed: number): Tensor => randn([n, D], { dtype: 'float64', generator: new Generator(seed) });
const input = (l: MetricLoss | LogitLoss, x: Tensor): Tensor => (l instanceof LogitLoss ? x.narrow(1, 0, D) : x);
const run = (l: MetricLoss | LogitLoss, x: Tensor, y: Tensor): Tensor =>
  l instanceof LogitLoss ? l.forward(x, y) : l.forward(x, y);

test('non-finite inputs give a LossInputError naming the loss and the argument', () => {
  for (const name of LOSS_NAMES) {
    const l = make(name);
    const arg = l instanceof LogitLoss ? 'logits' : 'embeddings';
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = batch(6, 1).clone();
      const data = x.dataNumbers();
      data[5] = bad;
      const xb = tensor(data, { dtype: 'float64' }).reshape(6, D);
      assert.throws(
        () => run(l, input(l, xb), labelsOf([0, 0, 1, 1, 2, 2])),
        (e: unknown) => {
          assert.ok(e instanceof LossInputError, `${name}: ${String(e)}`);
          assert.match(e.message, new RegExp(`^${l.name}: ${arg} contains non-finite values`));
          assert.equal(e.argument, arg);
          return true;
        },
        `${name} with ${bad}`,
      );
    }
    l.dispose();
  }
});

test('a non-finite learnable table is reported by name', () => {
  const l = new ProxyNCALoss({ numClasses: 3, embeddingSize: D });
  noGrad(() => l.table.fill_(NaN));
  assert.throws(
    () => l.forward(randn([3, D]), labelsOf([0, 1, 2])),
    /ProxyNCALoss: proxies contains non-finite values/,
  );
  const m = createLoss('margin', { beta: 1 });
  noGrad(() => m.beta.fill_(Infinity));
  assert.throws(() => m.forward(randn([3, D]), labelsOf([0, 1, 1])), /MarginLoss: beta contains non-finite values/);
});

test('labels: wrong length, non-integer dtype, wrong rank are refused by every loss', () => {
  for (const name of LOSS_NAMES) {
    const l = make(name);
    const x = input(l, batch(6, 2));
    const cases: [Tensor, RegExp][] = [
      [labelsOf([0, 0, 1, 1, 2]), /labels has length 5 but the batch has 6 rows/],
      [tensor([0, 0, 1, 1, 2, 2.5], { dtype: 'float64' }), /labels must be an integer tensor .*got float64/],
      [tensor([0, 0, 1, 1, 2, 2], { dtype: 'float32' }), /non-integer labels are refused/],
      [
        tensor(
          [
            [0, 0, 1],
            [1, 2, 2],
          ],
          { dtype: 'int64' },
        ),
        /labels must be a 1-D tensor, got shape \[2, 3\]/,
      ],
    ];
    for (const [y, re] of cases) {
      assert.throws(
        () => run(l, x, y),
        (e: unknown) => e instanceof LossInputError && e.message.startsWith(`${l.name}: `) && re.test(e.message),
        `${name}: ${re}`,
      );
    }
    l.dispose();
  }
});

test('embeddings must be a non-empty 2-D float tensor', () => {
  const l = new TripletMarginLoss();
  assert.throws(
    () => l.forward(f64([1, 2, 3]), labelsOf([0, 0, 1])),
    /TripletMarginLoss: embeddings must be a 2-D tensor \[batch, dim\], got shape \[3\]/,
  );
  assert.throws(
    () =>
      l.forward(
        tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'int64' },
        ),
        labelsOf([0, 1]),
      ),
    /embeddings must be a floating-point tensor, got int64/,
  );
  assert.throws(() => l.forward(f64([[1, 2]]).narrow(0, 0, 0), labelsOf([])), /embeddings must be non-empty/);
});

test('class-table losses check label range, embedding size and dtype', () => {
  const l = new ProxyNCALoss({ numClasses: 3, embeddingSize: D });
  assert.throws(
    () => l.forward(batch(4, 3).float(), labelsOf([0, 1, 2, 3])),
    /ProxyNCALoss: labels\[3\] = 3 is outside \[0, 3\)/,
  );
  assert.throws(() => l.forward(batch(4, 3).float(), labelsOf([0, 1, 2, -1])), /labels\[3\] = -1 is outside/);
  assert.throws(
    () => l.forward(randn([4, D + 1]), labelsOf([0, 1, 2, 2])),
    /embeddings have dimension 5 but the loss was built for embeddingSize 4/,
  );
  assert.throws(
    () => l.forward(batch(4, 3), labelsOf([0, 1, 2, 2])),
    /embeddings are float64 but the loss's proxies are float32; cast the loss with \.to\('float64'\)/,
  );
  assert.throws(
    () => l.forward(batch(4, 3).float(), labelsOf([0, 1, 2, 2]), { kind: 'pairs', a1: [], p: [], a2: [], n: [] }),
    /ProxyNCALoss: indices are not used by this loss/,
  );
  assert.throws(
    () => new ProxyNCALoss({ numClasses: 0, embeddingSize: D }),
    /numClasses must be a positive integer, got 0/,
  );
});

test('logit losses check the label range against the logits', () => {
  const x = f64([
    [1, 2, 3],
    [0, 1, 0],
  ]);
  assert.throws(
    () => new CrossEntropyLoss().forward(x, labelsOf([0, 3])),
    /CrossEntropyLoss: labels\[1\] = 3 is outside \[0, 3\) \(logits have 3 classes\)/,
  );
  assert.throws(
    () => new SmoothCrossEntropyLoss().forward(f64([[1], [2]]), labelsOf([0, 0])),
    /logits have 1 class; smoothing \(epsilon 0.1\) needs at least 2/,
  );
  assert.equal(new SmoothCrossEntropyLoss({ epsilon: 0 }).forward(f64([[1], [2]]), labelsOf([0, 0])).item(), 0);
  assert.throws(() => new SmoothCrossEntropyLoss({ epsilon: 1.5 }), /epsilon must be a finite number in \[0, 1\]/);
});

test('mined tuples are checked against the batch', () => {
  const l = new ContrastiveLoss();
  const x = batch(4, 4),
    y = labelsOf([0, 0, 1, 1]);
  assert.throws(
    () => l.forward(x, y, { kind: 'pairs', a1: [0], p: [4], a2: [], n: [] }),
    /ContrastiveLoss: indices\.p\[0\] = 4 is not a row of the batch/,
  );
  assert.throws(
    () => l.forward(x, y, { kind: 'pairs', a1: [0], p: [2], a2: [], n: [] }),
    /\(0, 2\) is not a positive pair/,
  );
  assert.throws(
    () => l.forward(x, y, { kind: 'pairs', a1: [0], p: [0], a2: [], n: [] }),
    /\(0, 0\) is not a positive pair/,
  );
  assert.throws(() => l.forward(x, y, { kind: 'triplets', a: [0], p: [1], n: [1] }), /\(0, 1\) is not a negative pair/);
  assert.throws(
    () => l.forward(x, y, { kind: 'pairs', a1: [0, 1], p: [1], a2: [], n: [] }),
    /index arrays of different lengths/,
  );
});

test('no valid pair or triplet gives 0 with a defined, all-zero gradient', () => {
  // Losses that need a positive and a negative give exactly 0; the others keep the side that
  // remains (a single class still has positive pairs, singletons still have negative pairs).
  const needsBoth: LossName[] = ['triplet', 'lifted-structure', 'n-pairs', 'nt-xent'];
  const oneSided: LossName[] = ['contrastive', 'margin', 'multi-similarity'];
  const degenerate = { 'single class': [3, 3, 3, 3], singletons: [0, 1, 2, 3] };
  for (const name of [...needsBoth, ...oneSided]) {
    for (const [what, labels] of Object.entries(degenerate)) {
      const l = make(name);
      tidy(() => {
        const x = batch(4, 5).requiresGrad_(true);
        const v = run(l, x, labelsOf(labels));
        const [g] = grad(v, [x], { allowUnused: true });
        assert.ok(g !== null, `${name}, ${what}: gradient defined`);
        assert.ok(
          g!.dataNumbers().every((e) => Number.isFinite(e)),
          `${name}, ${what}: finite gradient`,
        );
        if (needsBoth.includes(name)) {
          assert.equal(v.item(), 0, `${name}, ${what}: value`);
          assert.ok(
            g!.dataNumbers().every((e) => e === 0),
            `${name}, ${what}: zero gradient`,
          );
        } else {
          assert.ok(Number.isFinite(v.item()) && v.item() >= 0, `${name}, ${what}: value`);
        }
      });
      l.dispose();
    }
  }
  for (const mining of ['all', 'semihard', 'hard'] as const) {
    const l = new TripletMarginLoss({ mining });
    const x = batch(4, 6).requiresGrad_(true);
    const v = l.forward(x, labelsOf([1, 2, 3, 4]));
    assert.equal(v.item(), 0);
    assert.deepEqual(grad(v, [x])[0]!.dataNumbers(), new Array(4 * D).fill(0), `triplet ${mining}`);
  }
  // Empty explicit tuples behave the same.
  const x = batch(4, 7).requiresGrad_(true);
  const v = new ContrastiveLoss().forward(x, labelsOf([0, 0, 1, 1]), { kind: 'pairs', a1: [], p: [], a2: [], n: [] });
  assert.equal(v.item(), 0);
  assert.deepEqual(grad(v, [x])[0]!.dataNumbers(), new Array(4 * D).fill(0));
});

test('all-equal embeddings give finite values and gradients for every loss', () => {
  for (const name of LOSS_NAMES) {
    const l = make(name);
    tidy(() => {
      const row = batch(1, 8);
      const x = input(l, row.expand(6, D).contiguous()).clone().requiresGrad_(true);
      const v = run(l, x, labelsOf([0, 0, 1, 1, 2, 2]));
      assert.ok(Number.isFinite(v.item()), `${name}: value`);
      const [g] = grad(v, [x], { allowUnused: true }) as [Tensor | null];
      assert.ok(g === null || g.dataNumbers().every(Number.isFinite), `${name}: gradient`);
    });
    l.dispose();
  }
});

test('float32 gives the float64 value to single precision', () => {
  for (const name of LOSS_NAMES) {
    const l64 = make(name);
    const sd = l64.stateDict();
    const l32 = make(name);
    l32.to('float32');
    l32.loadStateDict(new Map([...sd].map(([k, t]) => [k, t.float()])));
    const x = input(l64, batch(8, 9));
    const y = labelsOf([0, 0, 1, 1, 2, 2, 3, 3]);
    const a = run(l64, x, y).item(),
      b = run(l32, x.float(), y).item();
    assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a)), `${name}: ${a} vs ${b}`);
    l64.dispose();
    l32.dispose();
  }
});

test('forward frees every intermediate tensor (tidy)', () => {
  for (const name of LOSS_NAMES) {
    const l = make(name);
    const x = input(l, batch(8, 10)).requiresGrad_(true);
    const y = labelsOf([0, 0, 1, 1, 2, 2, 3, 3]);
    run(l, x, y).dispose(); // warm up lazily created state
    const before = liveTensors();
    const v = run(l, x, y);
    v.backward();
    v.dispose();
    x.grad = null;
    const after = liveTensors(); // ≤: the GC backstop may free unrelated garbage meanwhile
    assert.ok(after <= before, `${name}: ${after - before} tensors leaked`);
    l.dispose();
  }
});

test('option validation', () => {
  assert.throws(
    () => createLoss('nt-xent', { temperature: 0 }),
    /NTXentLoss: temperature must be a finite number in \(0, ∞\]/,
  );
  assert.throws(() => createLoss('triplet', { margin: NaN }), /TripletMarginLoss: margin must be a finite number/);
  assert.throws(() => createLoss('triplet', { mining: 'random' as 'all' }), /mining must be all \| semihard \| hard/);
  assert.throws(
    () => createLoss('contrastive', { reducer: 'median' as 'mean' }),
    /reducer must be one of mean \| sum \| avgNonZero \| none/,
  );
  assert.throws(
    () => createLoss('contrastive', { distance: { name: 'manhattan' as 'euclidean' } }),
    /unknown distance 'manhattan'/,
  );
  assert.throws(() => createLoss('pce', { lambda: -1 }), /lambda must be a finite number in \(0, ∞\]/);
  assert.throws(() => (createLoss as (n: string) => unknown)('hinge'), /unknown loss 'hinge'/);
});

test('createLoss names options the loss does not take, instead of ignoring them', () => {
  assert.throws(
    () => createLoss('triplet', { margn: 0.2 } as never),
    new RegExp(
      "loss 'triplet': unknown option 'margn' \\(it takes: distance, embeddingRegWeight, embeddingRegularizer, " +
        'margin, miner, mining, reducer, smooth\\)',
    ),
  );
  assert.throws(
    () => createLoss('pce', { lambda: 1, softmean: 'uniform', x: 1 } as never),
    /loss 'pce': unknown options 'softmean', 'x'/,
  );
  assert.throws(
    () => createLoss('cosface', { numClasses: 3, embeddingSize: 4, scales: 2 } as never),
    /unknown option 'scales'/,
  );
  assert.throws(() => createLoss('smooth-ce', [0.1] as never), /options must be an object/);
  // Every option a loss documents is read, so valid configs pass.
  assert.equal(createLoss('triplet', { margin: 0.3, mining: 'semihard' } as never).margin, 0.3);
});
