import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.js';
import { orthonormaliseRows, symmetricEigen, topEigen } from '../../src/ml/linalg.js';
import { Rng } from '../../src/ml/random.js';

function assertOrthonormalRows(q: Float64Array, rows: number, cols: number): void {
  for (let a = 0; a < rows; a++)
    for (let b = 0; b < rows; b++) {
      let dot = 0;
      for (let i = 0; i < cols; i++) dot += q[a * cols + i]! * q[b * cols + i]!;
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12, `rows ${a}, ${b}: ${dot}`);
    }
}

test('orthonormaliseRows: an orthonormal basis of the same flag of subspaces', () => {
  const rng = new Rng(1);
  const rows = 5,
    cols = 9;
  const x = Float64Array.from({ length: rows * cols }, () => rng.normal());
  const q = Float64Array.from(x);
  orthonormaliseRows(q, rows, cols);
  assertOrthonormalRows(q, rows, cols);
  // The first row keeps its direction (Gram-Schmidt only normalises it).
  const n0 = Math.hypot(...x.subarray(0, cols));
  for (let i = 0; i < cols; i++) assert.ok(Math.abs(q[i]! - x[i]! / n0) < 1e-12);
  assert.throws(() => orthonormaliseRows(new Float64Array(6), 3, 2), /cannot be orthonormal/);
});

test('orthonormaliseRows: zero and repeated rows are replaced, the basis stays complete', () => {
  const q = Float64Array.from([1, 1, 0, 0, /* repeat */ 1, 1, 0, 0, /* zero */ 0, 0, 0, 0, /* 2x row 0 */ 2, 2, 0, 0]);
  orthonormaliseRows(q, 4, 4);
  assertOrthonormalRows(q, 4, 4);
});

test('topEigen (n <= 256) agrees with symmetricEigen and returns the top m descending', () => {
  const rng = new Rng(2);
  const n = 6,
    b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let t = 0; t < n; t++) a[i * n + j]! += b[i * n + t]! * b[j * n + t]!;
  const full = symmetricEigen(a, n);
  const cov = tensor(a, { shape: [n, n] });
  const top = topEigen(cov, 3);
  cov.dispose();
  const v = top.vectors.data() as Float64Array;
  assert.deepEqual(top.vectors.shape, [n, 3]);
  top.vectors.dispose();
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(top.values[c]! - full.values[c]!) < 1e-10 * full.values[0]!);
    let dot = 0;
    for (let i = 0; i < n; i++) dot += v[i * 3 + c]! * full.vectors[i * n + c]!;
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-9, `vector ${c}`);
  }
});
