// Shared helpers of the engine tests: PyTorch fixtures (scripts/fixtures/make_engine_fixtures.py)
// decoded into tensors, and closeness checks that say where two results differ.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor, Tensor, type DType } from '../../src/engine/index.js';

// Compiled tests live in dist/test/engine; the fixtures stay in the source tree.
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/engine');

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

/** A tensor as the fixture stores it: NaN and ±inf as strings, bool as 0/1. */
export interface FixTensor {
  dtype: DType;
  shape: number[];
  data: (number | string)[];
}
export type FixValue = FixTensor | FixValue[];

const num = (v: number | string): number =>
  v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number);

export function fromFix(f: FixTensor, o: { requiresGrad?: boolean } = {}): Tensor {
  return tensor(Float64Array.from(f.data, num), { shape: f.shape, dtype: f.dtype, requiresGrad: o.requiresGrad });
}

export interface Tol {
  rtol?: number;
  atol?: number;
}
/** Tolerances per dtype: the same libtorch computes both sides, so float32 differs by rounding only. */
function tolFor(d: DType, t: Tol): { rtol: number; atol: number } {
  if (d === 'float64') return { rtol: t.rtol ?? 1e-10, atol: t.atol ?? 1e-12 };
  if (d === 'float16' || d === 'bfloat16') return { rtol: t.rtol ?? 1e-3, atol: t.atol ?? 1e-3 };
  if (d === 'float32') return { rtol: t.rtol ?? 1e-5, atol: t.atol ?? 1e-6 };
  return { rtol: 0, atol: 0 };
}

/** Asserts dtype, shape and values of a tensor against a fixture tensor. */
export function assertMatches(actual: Tensor, expected: FixTensor, where: string, tol: Tol = {}): void {
  assert.equal(actual.dtype, expected.dtype, `${where}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${where}: shape`);
  assertClose(actual.dataNumbers(), expected.data.map(num), where, tolFor(expected.dtype, tol));
}

/** Element-wise closeness with NaN == NaN and matching infinities. */
export function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  where: string,
  tol: Tol = {},
): void {
  const rtol = tol.rtol ?? 1e-5,
    atol = tol.atol ?? 1e-6;
  assert.equal(actual.length, expected.length, `${where}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${where}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.equal(a, e, `${where}[${i}]`);
      continue;
    }
    assert.ok(
      Math.abs(a - e) <= atol + rtol * Math.abs(e),
      `${where}[${i}]: got ${a}, expected ${e} (|Δ| ${Math.abs(a - e)})`,
    );
  }
}

/** Compares a result that may be a tensor or a (nested) list of tensors with the fixture value. */
export function assertMatchesValue(actual: Tensor | Tensor[], expected: FixValue, where: string, tol: Tol = {}): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected a list of ${expected.length} tensors`);
    assert.equal(actual.length, expected.length, `${where}: list length`);
    expected.forEach((e, i) => assertMatchesValue((actual as Tensor[])[i]!, e, `${where}[${i}]`, tol));
    return;
  }
  assert.ok(actual instanceof Tensor, `${where}: expected a tensor`);
  assertMatches(actual, expected, where, tol);
}

/** Runs fn and checks that it throws an Error (not a crash, not a non-Error) whose message matches. */
export function assertThrowsMsg(fn: () => unknown, pattern: RegExp, where = ''): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, `${where}: threw a non-Error ${String(e)}`);
    assert.match(e.message, pattern, where);
    return true;
  });
}
