// PartialFC in one process: a sampled head equals the full head restricted to the drawn classes
// (value and gradients, float64), equals the full head outright when every class is drawn, draws
// the batch's classes plus a uniform share of the others, and draws again from its checkpointed
// step count. (Sharded across processes: test/ml/distributed.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, tensor, tidy, zeros, cat } from '../../../src/engine/index.js';
import { createLoss, sampleClasses, type SoftmaxTableLoss, type LossName } from '../../../src/ml/losses/index.js';
import { Rng, rngFor, STREAM } from '../../../src/ml/random.js';
import { assertClose, f64, labelsOf } from './helpers.js';

const HEADS: [LossName, Record<string, unknown>][] = [
  ['arcface', { margin: 0.4, scale: 10 }],
  ['cosface', { margin: 0.3, scale: 10 }],
  ['norm-softmax', { temperature: 0.1 }],
  ['proxy-nca', { scale: 4 }],
];
const C = 23,
  D = 6;
const x0 = Array.from({ length: 10 }, (_, i) => Array.from({ length: D }, (_, k) => Math.sin(1.7 * i + 0.9 * k + 0.3)));
const y0 = [3, 3, 17, 5, 17, 0, 22, 5, 9, 3];

function head(name: LossName, o: Record<string, unknown>, extra: Record<string, unknown> = {}): SoftmaxTableLoss {
  const l = createLoss(name, { ...o, numClasses: C, embeddingSize: D, seed: 8, ...extra } as never) as SoftmaxTableLoss;
  return l.to('float64');
}

for (const [name, o] of HEADS) {
  test(`${name}: a sampled head equals the full head on the drawn classes (value, input and table gradients)`, () => {
    const sampled = head(name, o, { sampleRate: 0.4 });
    const classes = sampleClasses(y0, 0, C, 0.4, rngFor(8, STREAM.classSample, 0, 0));
    assert.equal(classes.length, Math.floor(0.4 * C));
    for (const y of y0) assert.ok(classes.includes(y), `class ${y} of the batch is drawn`);
    const ref = head(name, o, { numClasses: classes.length });
    tidy(() => {
      ref.loadStateDict(
        new Map([[ref.tableName, sampled.table.detach().index([tensor(classes, { dtype: 'int64' })])]]),
      );
      const x = f64(x0, true),
        xr = f64(x0, true);
      const v = sampled.forward(x, labelsOf(y0));
      const r = ref.forward(xr, labelsOf(y0.map((c) => classes.indexOf(c))));
      assertClose(v.item(), r.item(), 'value', 1e-12);
      const [gx, gw] = grad(v, [x, sampled.table]);
      const [rx, rw] = grad(r, [xr, ref.table]);
      assertClose(gx!.dataNumbers(), rx!.dataNumbers(), 'd/d input', 1e-12);
      // The table's gradient: the reference's rows at the drawn classes, zero elsewhere.
      const expected = cat(
        Array.from({ length: C }, (_, c) =>
          classes.includes(c) ? rw!.narrow(0, classes.indexOf(c), 1) : zeros([1, D], { dtype: 'float64' }),
        ),
      );
      assertClose(gw!.dataNumbers(), expected.dataNumbers(), 'd/d table', 1e-12);
    });
    assert.equal(sampled.sampleStep, 1);
    sampled.dispose();
    ref.dispose();
  });

  test(`${name}: when the batch holds every class, the sampled head is the full head`, () => {
    const full = head(name, o),
      sampled = head(name, o, { sampleRate: 0.1 });
    const y = Array.from({ length: C }, (_, i) => (i * 5) % C);
    const x = Array.from({ length: C }, (_, i) => x0[i % 10]!.map((v, k) => v + 0.1 * Math.cos(i + k)));
    tidy(() => {
      const a = full.forward(f64(x), labelsOf(y)).item(),
        b = sampled.forward(f64(x), labelsOf(y)).item();
      assert.equal(a, b);
    });
    full.dispose();
    sampled.dispose();
  });
}

test('the margin heads leave a row alone when its target is not among the drawn classes', () => {
  tidy(() => {
    const cos = f64([
      [0.2, -0.5, 0.9],
      [0.1, 0.3, -0.2],
    ]);
    for (const [name, o] of HEADS) {
      const l = head(name, o);
      const withTarget = l.headLogits(cos, [2, -1]).dataNumbers();
      const none = l.headLogits(cos, [-1, -1]).dataNumbers();
      assert.deepEqual(withTarget.slice(3), none.slice(3), `${name}: row without a target`);
      if (name === 'arcface' || name === 'cosface') assert.ok(withTarget[2]! < none[2]!, `${name}: margin applied`);
      // logits() without labels: the plain logits a prediction uses, no margin on any class.
      const x = f64(x0.slice(0, 2));
      assert.deepEqual(l.logits(x).dataNumbers(), l.logits(x, [-1, -1]).dataNumbers(), `${name}: logits(x)`);
      l.dispose();
    }
  });
});

test('class draws: the batch classes plus a uniform share of the others, at least one class per range', () => {
  const rng = new Rng(3);
  const counts = new Float64Array(40);
  for (let t = 0; t < 3000; t++) for (const c of sampleClasses([2, 7, 7], 0, 40, 0.25, rng)) counts[c]!++;
  assert.equal(counts[2], 3000);
  assert.equal(counts[7], 3000);
  // Each of the 38 others: 8 of 38 per draw → expected 631.6, sd ≈ 22.
  for (let c = 0; c < 40; c++)
    if (c !== 2 && c !== 7) assert.ok(Math.abs(counts[c]! - (3000 * 8) / 38) < 100, `class ${c}`);
  assert.deepEqual(sampleClasses([], 10, 12, 0.01, new Rng(1)).length, 1);
  assert.deepEqual(sampleClasses([1, 2, 3, 4], 0, 10, 0.2, new Rng(1)), [1, 2, 3, 4]);
});

test('each step draws anew, and the step count travels in the state dict', () => {
  const a = head('cosface', { scale: 5 }, { sampleRate: 0.6 });
  const seen: number[] = [];
  const step = (l: SoftmaxTableLoss): number => tidy(() => l.forward(f64(x0), labelsOf(y0)).item());
  seen.push(step(a), step(a));
  assert.notEqual(seen[0], seen[1], 'another draw, another value');
  const sd = a.stateDict();
  assert.equal(sd.get('sample_step')?.item(), 2);
  const b = head('cosface', { scale: 5 }, { sampleRate: 0.6 });
  b.loadStateDict(sd);
  assert.equal(step(b), step(a), 'the same draw from the same step');
  for (const l of [a, b]) l.dispose();
  assert.throws(() => head('arcface', {}, { sampleRate: 0 }), /sampleRate must be a finite number in \(0, 1\]/);
});
