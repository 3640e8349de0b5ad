// Reducers: how a vector of per-element losses (per pair, triplet, anchor or sample) becomes the
// scalar that is minimised. Which one a loss uses changes its effective weighting: 'avgNonZero'
// divides by the number of terms that still violate their margin, so the loss does not fade as
// most triplets become easy (the batch-all triplet recipe of Hermans et al. 2017).
import { type Tensor, where } from '../../engine/index.js';

export type ReducerName = 'mean' | 'sum' | 'avgNonZero' | 'none';
export const REDUCERS: readonly ReducerName[] = ['mean', 'sum', 'avgNonZero', 'none'];

export function checkReducer(where: string, r: string): ReducerName {
  if (!(REDUCERS as readonly string[]).includes(r))
    throw new RangeError(`${where}: reducer must be one of ${REDUCERS.join(' | ')}, got '${r}'`);
  return r as ReducerName;
}

/**
 * A zero that is still connected to `anchor`'s graph, so backward() gives a defined (all-zero)
 * gradient rather than none: what a loss returns when its batch holds no valid pair or triplet.
 */
export function zeroLoss(anchor: Tensor): Tensor {
  const m = anchor.mul(0);
  const s = m.sum();
  m.dispose();
  return s;
}

/**
 * Reduces a 1-D vector of losses:
 * - mean: Σℓ / N (0 when N = 0)
 * - sum: Σℓ
 * - avgNonZero: Σ_{ℓ>0} ℓ / #{ℓ > 0} (0 when no term is positive); the count is a constant
 * - none: the vector itself
 * `anchor` supplies the connected zero for an empty vector.
 */
export function reduce(losses: Tensor, reducer: ReducerName, anchor: Tensor): Tensor {
  const n = losses.numel();
  if (reducer === 'none') return losses;
  if (n === 0) return zeroLoss(anchor);
  switch (reducer) {
    case 'sum':
      return losses.sum();
    case 'mean':
      return losses.mean();
    case 'avgNonZero': {
      const pos = losses.gt(0);
      const kept = where(pos, losses, 0);
      const count = pos.sum(undefined, false, losses.dtype).clampMin(1);
      const out = kept.sum().div(count);
      pos.dispose();
      kept.dispose();
      count.dispose();
      return out;
    }
    default:
      throw new RangeError(`unknown reducer '${String(reducer)}'`);
  }
}

/**
 * Splits a reduced loss into parts that add up to it. Each element's loss is a sum of pieces
 * (pieces[k][e]) wherever it is active (active[k][e]), and zero elsewhere (a hinge that is not
 * violated). Every part is divided by the reducer's denominator for the whole loss:
 * sum → 1, mean → numel, avgNonZero → the number of active elements (counted over `countMasks`).
 */
export function splitReduce(
  pieces: readonly Tensor[],
  active: readonly Tensor[],
  countMasks: readonly Tensor[],
  numel: number,
  reducer: ReducerName,
  anchor: Tensor,
): Tensor[] {
  if (reducer === 'none') throw new RangeError("split() needs a reducing reducer, not 'none'");
  if (numel === 0) return pieces.map(() => zeroLoss(anchor));
  let denom: Tensor | number;
  if (reducer === 'sum') denom = 1;
  else if (reducer === 'mean') denom = numel;
  else {
    let count: Tensor | null = null;
    for (const m of countMasks) {
      const c = m.sum(undefined, false, anchor.dtype);
      count = count === null ? c : count.add(c);
    }
    denom = count!.clampMin(1);
  }
  return pieces.map((p, k) => where(active[k]!, p, 0).sum().div(denom));
}
