// Reducers: a peer of losses, as in pytorch-metric-learning's `reducers` package; a loss picks one
// by name, so the weighting of its terms is an option rather than a fork of the loss.
export { type ReducerName, REDUCERS, checkReducer, reduce, splitReduce, zeroLoss } from './reducers.js';
