import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, STREAM, mixSeed, rngFor, sampleRng } from '../../src/ml/random.js';

test('xoshiro128** matches the reference test vector', () => {
  const r = Rng.fromState({ s: [1, 2, 3, 4] });
  assert.deepEqual(
    Array.from({ length: 6 }, () => r.nextUint32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

test('equal seeds give equal streams, different seeds different ones', () => {
  const a = new Rng(42),
    b = new Rng(42),
    c = new Rng(43);
  const xa = Array.from({ length: 8 }, () => a.uniform());
  assert.deepEqual(
    xa,
    Array.from({ length: 8 }, () => b.uniform()),
  );
  assert.notDeepEqual(
    xa,
    Array.from({ length: 8 }, () => c.uniform()),
  );
  // Large and negative seeds are accepted and distinct.
  assert.notEqual(new Rng(2 ** 40).nextUint32(), new Rng(2 ** 40 + 1).nextUint32());
  assert.notEqual(new Rng(-1).nextUint32(), new Rng(1).nextUint32());
  assert.throws(() => new Rng(0.5), /seed must be a safe integer/);
});

test('uniform, int and normal have the right ranges and moments', () => {
  const r = new Rng(7);
  const n = 100_000;
  let sum = 0,
    min = 1,
    max = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005 && min >= 0 && max < 1);
  const u = r.uniform(-3, -1);
  assert.ok(u >= -3 && u < -1);

  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[r.int(-2, 4) + 2]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `int() bucket count ${c}`);
  assert.equal(r.int(5, 6), 5);
  assert.throws(() => r.int(3, 3), /empty range/);
  assert.throws(() => r.int(0, 2.5), /must be integers/);
  const big = r.int(0, 2 ** 40);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 40);

  let s1 = 0,
    s2 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s1 += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s1 / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.03);
  const z = r.normal(10, 0);
  assert.equal(z, 10);
});

test('permutation and shuffle are permutations, reproducibly', () => {
  const p = new Rng(3).permutation(50);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual(p, new Rng(3).permutation(50));
  assert.notDeepEqual(
    p,
    Array.from({ length: 50 }, (_, i) => i),
  );
  const arr = ['a', 'b', 'c', 'd'];
  assert.equal(new Rng(1).shuffle(arr), arr);
  assert.deepEqual([...arr].sort(), ['a', 'b', 'c', 'd']);
  assert.deepEqual(new Rng(1).permutation(0), []);
});

test('fork names streams without advancing the parent', () => {
  const parent = new Rng(9);
  const before = parent.getState();
  const f1 = parent.fork(1),
    f1b = parent.fork(1),
    f2 = parent.fork(2);
  assert.deepEqual(parent.getState(), before);
  const a = Array.from({ length: 4 }, () => f1.nextUint32());
  assert.deepEqual(
    a,
    Array.from({ length: 4 }, () => f1b.nextUint32()),
  );
  assert.notDeepEqual(
    a,
    Array.from({ length: 4 }, () => f2.nextUint32()),
  );
  assert.notDeepEqual(
    a,
    Array.from({ length: 4 }, () => new Rng(9).nextUint32()),
  );
  // sampleRng is a fork chain: equal tuples equal streams, any differing coordinate a new one.
  const s = sampleRng(1, 2, 3, 4).nextUint32();
  assert.equal(sampleRng(1, 2, 3, 4).nextUint32(), s);
  for (const t of [
    [0, 2, 3, 4],
    [1, 0, 3, 4],
    [1, 2, 0, 4],
    [1, 2, 3, 0],
    [1, 3, 2, 4],
  ] as Array<[number, number, number, number]>) {
    assert.notEqual(sampleRng(...t).nextUint32(), s, `sampleRng(${t.join(',')})`);
  }
});

test('state round-trips through JSON for a bit-exact resume', () => {
  const r = new Rng(123);
  for (let i = 0; i < 10; i++) r.uniform();
  const saved = JSON.parse(JSON.stringify(r.getState()));
  const expected = Array.from({ length: 5 }, () => r.normal());
  const resumed = new Rng(0);
  resumed.setState(saved);
  assert.deepEqual(
    Array.from({ length: 5 }, () => resumed.normal()),
    expected,
  );
  assert.deepEqual(Rng.fromState(saved).getState(), saved);
  const c = r.clone();
  assert.equal(c.nextUint32(), r.nextUint32());
  assert.throws(() => resumed.setState({ s: [1, 2, 3] } as never), /four uint32/);
  assert.throws(() => resumed.setState({ s: [1, 2, 3, -1] }), /four uint32/);
  // The all-zero state is xoshiro's fixed point; it is replaced rather than accepted silently.
  resumed.setState({ s: [0, 0, 0, 0] });
  assert.notEqual(resumed.nextUint32() + resumed.nextUint32(), 0);
});

test('rngFor is the fork chain; mixSeed a uint32 per stream; the named streams differ', () => {
  assert.deepEqual(rngFor(5, 1, 2).getState(), new Rng(5).fork(1).fork(2).getState());
  assert.deepEqual(rngFor(5).getState(), new Rng(5).getState());
  assert.deepEqual(sampleRng(1, 2, 3, 4).getState(), rngFor(1, 2, 3, 4).getState());
  const s = mixSeed(7, STREAM.rank, 1);
  assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  assert.equal(mixSeed(7, STREAM.rank, 1), s);
  assert.notEqual(mixSeed(7, STREAM.rank, 2), s);
  assert.notEqual(mixSeed(8, STREAM.rank, 1), s);
  const names = Object.values(STREAM);
  assert.equal(new Set(names).size, names.length);
  // Beyond any epoch, so a named stream never coincides with a loader's per-epoch one.
  for (const v of names) assert.ok(v >= 2 ** 32 && Number.isSafeInteger(v));
});
