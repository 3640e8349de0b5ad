// Miners: select informative pairs or triplets of a batch, without gradient, for the pairwise losses.
export { TripletMarginMiner, type TripletMarginMinerOptions, type TripletMiningType } from './triplet-margin-miner.js';
export { BatchHardMiner, type BatchHardMinerOptions } from './batch-hard-miner.js';
export { MultiSimilarityMiner, type MultiSimilarityMinerOptions } from './multi-similarity-miner.js';
export type { Miner } from './base.js';
