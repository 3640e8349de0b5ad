// Reducers: how a vector of per-element losses (per pair, triplet, anchor or sample) becomes the
// scalar that is minimised. Which one a loss uses changes its effective weighting: 'avgNonZero'
// divides by the number of terms that still violate their margin, so the loss does not fade as
// most triplets become easy (the batch-all triplet recipe of Hermans et al. 2017).
import { type Tensor, where } from '../../engine/index.js';
import { type Reducer, type ReducerLike, type ReducerName, type ReductionInfo, zeroLoss } from './base.js';
import { AvgNonZeroReducer, DoNothingReducer, MeanReducer, SumReducer } from './basic.js';

export const REDUCERS: readonly ReducerName[] = ['mean', 'sum', 'avgNonZero', 'none'];

const BY_NAME: Record<ReducerName, () => Reducer> = {
  mean: () => new MeanReducer(),
  sum: () => new SumReducer(),
  avgNonZero: () => new AvgNonZeroReducer(),
  none: () => new DoNothingReducer(),
};

function isReducer(r: unknown): r is Reducer {
  return typeof r === 'object' && r !== null && typeof (r as Reducer).reduce === 'function';
}

/** A reducer's name or object, checked: names must be known, objects must have reduce(). */
export function checkReducer<R extends ReducerLike>(where: string, r: R): R {
  if (isReducer(r)) return r;
  if (typeof r !== 'string' || !(REDUCERS as readonly string[]).includes(r))
    throw new RangeError(
      `${where}: reducer must be one of ${REDUCERS.join(' | ')} or an object with reduce(), got ` +
        `${typeof r === 'string' ? `'${r}'` : JSON.stringify(r)}`,
    );
  return r;
}

/** The Reducer object of a name (or the object itself). */
export function makeReducer(where: string, r: ReducerLike): Reducer {
  const c = checkReducer(where, r);
  return typeof c === 'string' ? BY_NAME[c]() : c;
}

/** Whether the reducer leaves the terms unreduced ('none' or a DoNothingReducer). */
export function isNoReduction(r: ReducerLike): boolean {
  return r === 'none' || r instanceof DoNothingReducer;
}

/**
 * Reduces a 1-D vector of losses:
 * - mean: Σℓ / N (0 when N = 0)
 * - sum: Σℓ
 * - avgNonZero: Σ_{ℓ>0} ℓ / #{ℓ > 0} (0 when no term is positive); the count is a constant
 * - none: the vector itself
 * - a Reducer object: whatever it computes from the terms and `info` (which terms are which pairs,
 *   the labels, the part of the loss, a divisor).
 * `anchor` (the batch's embeddings) supplies the connected zero for an empty vector.
 */
export function reduce(losses: Tensor, reducer: ReducerLike, anchor: Tensor, info: ReductionInfo = {}): Tensor {
  const r = makeReducer('reduce', reducer);
  const kind = info.kind ?? 'element';
  const indices = info.indices ?? [Array.from({ length: losses.numel() }, (_, i) => i)];
  return r.reduce({
    losses,
    kind,
    indices,
    labels: info.labels,
    part: info.part ?? 'loss',
    divisor: info.divisor,
    embeddings: anchor,
  });
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
  reducer: ReducerLike,
  anchor: Tensor,
): Tensor[] {
  if (typeof reducer !== 'string')
    throw new RangeError(`split() needs a named reducer (mean | sum | avgNonZero), not a ${reducer.name} object`);
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
