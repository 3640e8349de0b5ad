// Miners: select informative pairs or triplets of a batch, without gradient, for the pairwise losses.
export { TripletMarginMiner, type TripletMarginMinerOptions, type TripletMiningType } from './triplet-margin-miner.js';
export { BatchHardMiner, type BatchHardMinerOptions } from './batch-hard-miner.js';
export { MultiSimilarityMiner, type MultiSimilarityMinerOptions } from './multi-similarity-miner.js';
export { AngularMiner, type AngularMinerOptions } from './angular-miner.js';
export {
  BatchEasyHardMiner,
  type BatchEasyHardMinerOptions,
  type BatchMiningStrategy,
} from './batch-easy-hard-miner.js';
export { DistanceWeightedMiner, type DistanceWeightedMinerOptions } from './distance-weighted-miner.js';
export { HDCMiner, type HDCMinerOptions } from './hdc-miner.js';
export { PairMarginMiner, type PairMarginMinerOptions } from './pair-margin-miner.js';
export { UniformHistogramMiner, type UniformHistogramMinerOptions, linspace } from './uniform-histogram-miner.js';
export { PackagedTripletsMiner } from './packaged-triplets-miner.js';
export {
  createMiner,
  minerIsRandom,
  MINER_NAMES,
  MINER_SPECS,
  type MinerName,
  type MinerOptionsByName,
} from './registry.js';
export type { Miner } from './base.js';
