// Small numerical building blocks composed from engine ops.
import { type DType, type Tensor, cat, where, zeros } from '../../../engine/index.js';

/**
 * log Σ_{j: mask} exp(x_j) along dim 1 of a [rows, cols] matrix, or log(1 + Σ ...) with addOne
 * (an implicit extra term exp(0)). Rows with no kept entry give 0 (not -∞), with a zero gradient:
 * their inputs are replaced by 0 before the reduction, so no NaN can leak into backward.
 * Returns [rows].
 */
export function maskedLogSumExp(x: Tensor, mask: Tensor, addOne: boolean): Tensor {
  const rowAny = mask.any(1, true);
  const masked = where(mask, x, -Infinity);
  const safe = where(rowAny, masked, 0);
  const input = addOne ? cat([safe, zeros([x.shape[0]!, 1], { dtype: x.dtype, device: x.device })], 1) : safe;
  const lse = input.logsumexp(1, true);
  return where(rowAny, lse, 0).squeeze(1);
}

/** Sum of the entries of x where mask is true, along dim 1 (masked entries contribute nothing). */
export function maskedSum(x: Tensor, mask: Tensor, dim: number): Tensor {
  return where(mask, x, 0).sum(dim);
}

/** The gap between 1 and the next representable number: the smallest clamp that keeps √(1 - c²) off 0. */
export function machineEpsilon(dtype: DType): number {
  switch (dtype) {
    case 'float64':
      return 2 ** -52;
    case 'float16':
      return 2 ** -10;
    case 'bfloat16':
      return 2 ** -7;
    default:
      return 2 ** -23;
  }
}
