// Reducers: a peer of losses, as in pytorch-metric-learning's `reducers` package; a loss takes one
// by name or as an object, so the weighting of its terms is an option rather than a fork of the loss.
export {
  type Reducer,
  type ReducerLike,
  type ReducerName,
  type Reduction,
  type ReductionInfo,
  type ReductionKind,
  zeroLoss,
} from './base.js';
export { REDUCERS, checkReducer, isNoReduction, makeReducer, reduce, splitReduce } from './reducers.js';
export {
  AvgNonZeroReducer,
  DoNothingReducer,
  MeanReducer,
  SumReducer,
  ThresholdReducer,
  type ThresholdReducerOptions,
} from './basic.js';
export { ClassWeightedReducer } from './class-weighted.js';
export { DivisorReducer } from './divisor.js';
export { PerAnchorReducer, meanPerAnchor, type AnchorAggregation, type PerAnchorReducerOptions } from './per-anchor.js';
export { MultipleReducers } from './multiple.js';
