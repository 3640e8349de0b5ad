// Shared test helpers: fixture loading, tensors from fixtures, closeness checks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tensor, tensor } from '../../../src/engine/index.js';
import type { MinedTuples } from '../../../src/ml/losses/index.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/losses');

export interface FixtureCase {
  name: string;
  options: Record<string, unknown>;
  labels: number[];
  input: number[][];
  params: Record<string, number[] | number[][]>;
  indices?: MinedTuples;
  /** A reference set the batch is compared with (its gradient is expected.grad.ref). */
  ref?: { input: number[][]; labels: number[] };
  /** Batches the loss sees first (losses with state, e.g. a running histogram). */
  history?: { input: number[][]; labels: number[] }[];
  mined?: MinedTuples;
  miner?: { epsilon: number };
  expected: {
    loss: number;
    grad: Record<string, number[] | number[][]>;
    split?: { tightness: number; contrastive: number; other?: number };
  };
}
export interface Fixture {
  loss: string;
  input: 'embeddings' | 'logits';
  cases: FixtureCase[];
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
}

export const f64 = (data: number[] | number[][], requiresGrad = false): Tensor =>
  tensor(data, { dtype: 'float64', requiresGrad });
export const labelsOf = (y: readonly number[]): Tensor => tensor([...y], { dtype: 'int64' });

/** |a - b| ≤ tol · max(1, |b|), element-wise, with the worst element in the message. */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  msg: string,
  tol = 1e-5,
): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = typeof expected === 'number' ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, `${msg}: length ${a.length} vs ${e.length}`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - e[i]!) / Math.max(1, Math.abs(e[i]!));
    if (!(err <= tol)) {
      worst = i;
      worstErr = err;
      break;
    }
  }
  assert.ok(worst < 0, `${msg}: element ${worst}: ${a[worst]} vs ${e[worst]} (relative error ${worstErr})`);
}

export const flat = (v: number[] | number[][]): number[] => (v as (number | number[])[]).flat() as number[];

/** Tuples as a set of strings, for order-free comparison. */
export function tupleSet(t: MinedTuples): { pos: string[]; neg: string[] } {
  if (t.kind === 'triplets') return { pos: t.a.map((a, k) => `${a},${t.p[k]},${t.n[k]}`).sort(), neg: [] };
  return { pos: t.a1.map((a, k) => `${a},${t.p[k]}`).sort(), neg: t.a2.map((a, k) => `${a},${t.n[k]}`).sort() };
}
