// A reducer per part of a loss (PML's MultipleReducers): e.g. the contrastive loss's positive
// pairs averaged over the non-zero ones and its negative pairs over all of them.
import type { Tensor } from '../../engine/index.js';
import type { Reducer, ReducerLike, Reduction } from './base.js';
import { makeReducer } from './reducers.js';

/**
 * Routes each part of a loss, by PML's sub-loss name ('loss', 'pos_loss', 'neg_loss', ...), to
 * its reducer, the others to `fallback` (default 'mean'). The loss adds the reduced parts, as PML's
 * MultipleReducers sums them.
 */
export class MultipleReducers implements Reducer {
  readonly name: string = 'multiple';
  readonly reducers: ReadonlyMap<string, Reducer>;
  readonly fallback: Reducer;
  constructor(reducers: Readonly<Record<string, ReducerLike>>, fallback: ReducerLike = 'mean') {
    this.reducers = new Map(Object.entries(reducers).map(([k, r]) => [k, makeReducer('MultipleReducers', r)]));
    this.fallback = makeReducer('MultipleReducers', fallback);
  }
  reduce(r: Reduction): Tensor {
    return (this.reducers.get(r.part) ?? this.fallback).reduce(r);
  }
}
