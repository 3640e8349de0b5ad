// Input checks shared by every loss and miner. A bad batch should fail loudly at the loss, naming
// the loss and the argument, rather than as a libtorch shape error deep in a kernel or as a NaN
// that only shows up epochs later.
import type { Tensor } from '../../engine/index.js';

/** A loss or miner was called with an unusable argument. */
export class LossInputError extends Error {
  constructor(
    readonly where: string,
    readonly argument: string,
    detail: string,
  ) {
    super(`${where}: ${argument}${/^[[.:]/.test(detail) ? '' : ' '}${detail}`);
    this.name = 'LossInputError';
  }
}

const FLOAT = new Set(['float32', 'float64', 'float16', 'bfloat16']);
const INTEGER = new Set(['int64', 'int32', 'int16', 'int8', 'uint8']);

/** A 2-D floating tensor [n, d] with n >= 1 and only finite values. */
export function checkMatrix(where: string, x: Tensor, argument = 'embeddings'): void {
  if (x.ndim !== 2)
    throw new LossInputError(where, argument, `must be a 2-D tensor [batch, dim], got shape [${x.shape.join(', ')}]`);
  if (!FLOAT.has(x.dtype)) throw new LossInputError(where, argument, `must be a floating-point tensor, got ${x.dtype}`);
  const [n, d] = x.shape as [number, number];
  if (n < 1 || d < 1) throw new LossInputError(where, argument, `must be non-empty, got shape [${n}, ${d}]`);
  checkFinite(where, x, argument);
}

/** Throws when any element is NaN or infinite. */
export function checkFinite(where: string, x: Tensor, argument: string): void {
  const fin = x.isfinite();
  const all = fin.all();
  const ok = all.item() !== 0;
  fin.dispose();
  all.dispose();
  if (!ok) throw new LossInputError(where, argument, 'contains non-finite values (NaN or ±Infinity)');
}

/**
 * Labels: a 1-D integer tensor with one entry per row of the batch. Returns the values as numbers
 * (the index builders and miners work on them in JS).
 */
export function checkLabels(where: string, labels: Tensor, n: number, argument = 'labels'): number[] {
  if (labels.ndim !== 1)
    throw new LossInputError(where, argument, `must be a 1-D tensor, got shape [${labels.shape.join(', ')}]`);
  if (!INTEGER.has(labels.dtype)) {
    throw new LossInputError(
      where,
      argument,
      `must be an integer tensor (class ids), got ${labels.dtype}; non-integer labels are refused`,
    );
  }
  const len = labels.shape[0]!;
  if (len !== n) throw new LossInputError(where, argument, `has length ${len} but the batch has ${n} rows`);
  return labels.dataNumbers();
}

/** Class ids must index a class table of numClasses entries. */
export function checkClassRange(
  where: string,
  labels: readonly number[],
  numClasses: number,
  argument = 'labels',
): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0 || y >= numClasses)
      throw new LossInputError(where, argument, `[${i}] = ${y} is outside [0, ${numClasses})`);
  }
}

/** Learnable tables must share the input's dtype: say so instead of a libtorch type error. */
export function checkSameDtype(
  where: string,
  x: Tensor,
  param: Tensor,
  paramName: string,
  argument = 'embeddings',
): void {
  if (x.dtype !== param.dtype) {
    throw new LossInputError(
      where,
      argument,
      `are ${x.dtype} but the loss's ${paramName} are ${param.dtype}; cast the loss with .to('${x.dtype}')`,
    );
  }
}

export function positiveInteger(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${name} must be a positive integer, got ${v}`);
}
export function finiteNumber(
  where: string,
  name: string,
  v: number,
  o: { min?: number; max?: number; open?: boolean } = {},
): void {
  const bad =
    !Number.isFinite(v) ||
    (o.min !== undefined && (o.open ? v <= o.min : v < o.min)) ||
    (o.max !== undefined && v > o.max);
  if (bad) {
    const range =
      o.min !== undefined || o.max !== undefined ? ` in ${o.open ? '(' : '['}${o.min ?? '-∞'}, ${o.max ?? '∞'}]` : '';
    throw new RangeError(`${where}: ${name} must be a finite number${range}, got ${v}`);
  }
}
