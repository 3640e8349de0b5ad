// The reducer contract: what a loss tells a reducer about its per-term losses, so that a reducer
// can weight terms by class, average them per anchor or divide by a count the loss knows. These are
// the facts pytorch-metric-learning's loss dictionaries carry ("losses", "indices",
// "reduction_type", "divisor"), one part of a loss at a time.
import type { Tensor } from '../../engine/index.js';

export type ReducerName = 'mean' | 'sum' | 'avgNonZero' | 'none';

/**
 * What the terms are: one per batch row ('element'), per positive or negative pair, or per triplet.
 * PML's reduction types element / pos_pair / neg_pair / triplet.
 */
export type ReductionKind = 'element' | 'posPair' | 'negPair' | 'triplet';

/** What a loss knows about one vector of its terms, beyond the values. */
export interface ReductionInfo {
  /** Default 'element'. */
  kind?: ReductionKind;
  /**
   * The batch rows of each term: element → [rows]; pairs → [anchors, others]; triplets →
   * [anchors, positives, negatives]. Default for 'element': term k is row k.
   */
  indices?: readonly (readonly number[])[];
  /** The batch's labels (class-weighted reducers read the anchors' classes). */
  labels?: readonly number[];
  /**
   * Which part of the loss these terms are, by PML's sub-loss names ('loss', 'pos_loss',
   * 'neg_loss', ...), so a MultipleReducers can pick a reducer per part. Default 'loss'.
   */
  part?: string;
  /** A denominator the loss defines (read by DivisorReducer, as PML's "divisor"). */
  divisor?: number;
}

/** One vector of terms with everything a reducer may read. */
export interface Reduction {
  /** 1-D per-term losses. */
  readonly losses: Tensor;
  readonly kind: ReductionKind;
  readonly indices: readonly (readonly number[])[];
  readonly labels: readonly number[] | undefined;
  readonly part: string;
  readonly divisor: number | undefined;
  /** The batch's embeddings [n, d]: the batch size, and the graph a zero loss stays connected to. */
  readonly embeddings: Tensor;
}

/** Turns a loss's terms into what is minimised: a scalar, or (DoNothingReducer) the terms themselves. */
export interface Reducer {
  readonly name: string;
  reduce(r: Reduction): Tensor;
}

/** A reducer given by name (configs) or as an object (the API). */
export type ReducerLike = ReducerName | Reducer;

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
