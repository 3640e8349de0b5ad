// Batch samplers: which sample indices form each batch of an epoch. Deterministic given (seed, epoch),
// so a resumed run sees exactly the batches the interrupted one would have.
export { type BatchSampler, epochRng } from './base.js';
export { RandomBatchSampler } from './random-batch.js';
export { ClassBalancedSampler } from './class-balanced.js';
export { HierarchicalSampler, safeRandomChoice, type HierarchicalSamplerOptions } from './hierarchical.js';
export { FixedSetOfTriplets, type FixedSetOfTripletsOptions } from './fixed-triplets.js';
export { TuplesToWeightsSampler, tupleWeights, type TuplesToWeightsOptions } from './tuples-to-weights.js';
