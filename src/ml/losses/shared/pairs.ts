// Pieces of the pair-based losses that pytorch-metric-learning shares through loss_and_miner_utils:
// label masks between the batch and its reference set, and miner weights.
import { type Tensor, tensor } from '../../../engine/index.js';
import type { MinedTuples } from '../../utils/tuples.js';
import type { Batch } from './base.js';

/** The rows tuples' second index points into: the reference set, or the batch itself. */
export const refRows = (b: Batch): Tensor => b.refX ?? b.x;
export const refLabelsOf = (b: Batch): readonly number[] => b.refLabels ?? b.labels;

/**
 * A bool [rows.length, ref.length] mask of label equality (same = true) or inequality. With
 * `excludeSelf` (the reference set is the batch itself) the diagonal is false, as a sample is not
 * its own positive.
 */
export function labelMask(
  rows: readonly number[],
  ref: readonly number[],
  same: boolean,
  device: string,
  excludeSelf = false,
): Tensor {
  const m = new Uint8Array(rows.length * ref.length);
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < ref.length; j++)
      if ((rows[i] === ref[j]) === same && !(excludeSelf && i === j)) m[i * ref.length + j] = 1;
  return tensor(m, { shape: [rows.length, ref.length], dtype: 'bool', device });
}

/**
 * pytorch-metric-learning's convert_to_weights: a weight per batch row, the number of times it
 * appears in the mined tuples over the largest such count (so the miner's choice still weighs
 * the per-sample losses that take no tuples). Anchors only when the tuples point into a reference
 * set. No tuples (or empty ones): all ones.
 */
export function minerWeights(t: MinedTuples | undefined, n: number, usingRef: boolean, like: Tensor): Tensor {
  const w = new Float64Array(n);
  const lists =
    t === undefined
      ? []
      : t.kind === 'pairs'
        ? usingRef
          ? [t.a1, t.a2]
          : [t.a1, t.p, t.a2, t.n]
        : usingRef
          ? [t.a]
          : [t.a, t.p, t.n];
  if (lists.every((l) => l.length === 0)) w.fill(1);
  else {
    for (const l of lists) for (const i of l) w[i]! += 1;
    const max = Math.max(...w);
    for (let i = 0; i < n; i++) w[i]! /= max;
  }
  return tensor(w, { dtype: like.dtype, device: like.device });
}
