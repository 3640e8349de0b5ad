// Shared by the model tests: the fixtures of scripts/fixtures/make_model_fixtures.py and
// element-wise comparisons that say where and by how much two tensors differ.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadTensors, type Tensor } from '../../../src/engine/index.js';

// Compiled to dist/test/ml/models/, four levels below the repository root.
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/models');
export const fixturePath = (name: string): string => path.join(FIXTURES, name);

/** The tensors of a torch.save'd fixture, nested dicts flattened to dotted keys. */
export function loadFixture(name: string): Map<string, Tensor> {
  return loadTensors(fixturePath(name)).tensors;
}

/** The entries under `prefix.` with the prefix removed. */
export function sub(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of m) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

export function get(m: Map<string, Tensor>, key: string): Tensor {
  const t = m.get(key);
  assert.ok(t, `fixture lacks '${key}' (has ${[...m.keys()].slice(0, 12).join(', ')}...)`);
  return t;
}

export interface Tolerance {
  /** Relative to each expected element. */
  rtol: number;
  /** Relative to the largest expected magnitude. */
  atol: number;
}
/** Expected values computed in float64 and stored as float32: only the float32 rounding remains. */
export const F64_VS_STORED_F32: Tolerance = { rtol: 1e-6, atol: 1e-9 };
/** Both sides computed in float32 (different kernels and summation orders). */
export const F32: Tolerance = { rtol: 1e-5, atol: 1e-5 };

function numbers(t: Tensor): number[] {
  return t.dataNumbers();
}

/** Largest absolute difference (shapes must match). */
export function maxAbsDiff(actual: Tensor, expected: Tensor): number {
  assert.deepEqual(actual.shape, expected.shape, 'shape');
  const a = numbers(actual),
    e = numbers(expected);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - e[i]!));
  return m;
}

/** |a - e| <= rtol |e| + atol max|e| element-wise, with a message that names the worst element. */
export function assertClose(actual: Tensor, expected: Tensor, tol: Tolerance, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = numbers(actual),
    e = numbers(expected);
  let scale = 0;
  for (const v of e) scale = Math.max(scale, Math.abs(v));
  let worst = -1,
    worstExcess = 0,
    maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (!(d <= tol.rtol * Math.abs(e[i]!) + tol.atol * scale)) {
      const excess = Number.isNaN(d) ? Infinity : d;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
    if (d > maxDiff) maxDiff = d;
  }
  assert.ok(
    worst < 0,
    `${what}: element ${worst} is ${a[worst]} vs expected ${e[worst]} (max abs diff ${maxDiff}, max |expected| ` +
      `${scale})`,
  );
  // A fixture of zeros would prove nothing.
  assert.ok(scale > 0, `${what}: the expected tensor is all zeros`);
}
