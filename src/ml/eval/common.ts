// Shared argument handling for evaluation: labels in any common form, embedding checks.
import { Tensor, noGrad, tidy } from '../../engine/index.js';

/** Integer class labels: an int tensor [N], a plain array, or a typed array. */
export type Labels = Tensor | readonly number[] | Int32Array | BigInt64Array | Float64Array;

/** Labels as an Int32Array; rejects non-integers so that class equality is exact. */
export function labelArray(labels: Labels, expectedLength?: number, what = 'labels'): Int32Array {
  let out: Int32Array;
  if (labels instanceof Tensor) {
    if (labels.ndim !== 1)
      throw new RangeError(`${what}: expected a 1-D tensor, got shape [${labels.shape.join(', ')}]`);
    const d = labels.dtype;
    if (d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16') {
      out = labelArray(Array.from(labels.data() as Float32Array), expectedLength, what);
      return out;
    }
    const t = labels.to('int64');
    try {
      out = Int32Array.from(t.data() as BigInt64Array, (v) => checkedInt(Number(v), what));
    } finally {
      t.dispose();
    }
  } else if (labels instanceof BigInt64Array) {
    out = Int32Array.from(labels, (v) => checkedInt(Number(v), what));
  } else if (labels instanceof Int32Array) {
    out = labels;
  } else {
    out = Int32Array.from(labels as ArrayLike<number>, (v) => checkedInt(v, what));
  }
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new RangeError(`${what}: ${out.length} labels for ${expectedLength} embeddings`);
  }
  return out;
}

function checkedInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)
    throw new RangeError(`${what}: label ${v} is not a 32-bit integer`);
  return v;
}

/** Checks an embedding matrix: 2-D, floating, finite (NaN or ±inf would make rankings meaningless). */
export function checkEmbeddings(x: Tensor, what = 'embeddings'): { n: number; d: number } {
  if (x.ndim !== 2) throw new RangeError(`${what}: expected [N, D], got shape [${x.shape.join(', ')}]`);
  const dt = x.dtype;
  if (dt !== 'float32' && dt !== 'float64') throw new TypeError(`${what}: expected float32 or float64, got ${dt}`);
  // max/min propagate NaN and reveal +-inf, and as plain reductions they allocate nothing:
  // isfinite() would build abs(x) and three boolean masks, 1.3 GB transient for SOP's test set.
  const ok =
    x.numel() === 0 || noGrad(() => tidy(() => Number.isFinite(x.max().item()) && Number.isFinite(x.min().item())));
  if (!ok) throw new RangeError(`${what}: contains NaN or infinite values`);
  const [n, d] = x.shape as [number, number];
  return { n, d };
}

/** Counts of each label value. */
export function labelCounts(labels: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) m.set(labels[i]!, (m.get(labels[i]!) ?? 0) + 1);
  return m;
}
